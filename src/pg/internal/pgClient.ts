/**
 * `@effect/sql-pg` is an optional peer dependency: its code is loaded when a
 * Postgres layer is built, never by a static import, so `agentarmour/pg` can
 * name the package when it is missing (see `../index.ts`).
 *
 * @internal
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

import { missingPeer } from "../../internal/peer.js"

const load = Effect.tryPromise({
  try: () => import("@effect/sql-pg/PgClient"),
  catch: () => new Error(missingPeer("@effect/sql-pg", "agentarmour/pg"))
}).pipe(Effect.orDie)

/** `PgClient.make(config)`, with `@effect/sql-pg` imported when it runs */
export const make = (config: PgClient.PgClientConfig) =>
  Effect.flatMap(load, (PgClientModule) => PgClientModule.make(config))

/** `PgClient.layer(config)`, with `@effect/sql-pg` imported when the layer is built */
export const layer = (config: PgClient.PgClientConfig) =>
  Layer.unwrapEffect(
    Effect.tryPromise({
      try: () => import("@effect/sql-pg/PgClient"),
      catch: () => new Error(missingPeer("@effect/sql-pg", "agentarmour/pg"))
    }).pipe(
      Effect.orDie,
      Effect.map((PgClientModule) => PgClientModule.layer(config))
    )
  )

/**
 * The `PgClient` service tag, built from its key so that reading it does not
 * load `@effect/sql-pg` (the same key as `@effect/sql-pg/PgClient`'s own tag).
 */
export const tag: Context.Tag<PgClient.PgClient, PgClient.PgClient> = Context.GenericTag<PgClient.PgClient>(
  "@effect/sql-pg/PgClient"
)
