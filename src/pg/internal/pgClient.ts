/**
 * `@effect/sql-pg` is an optional peer dependency: its code is loaded when a
 * Postgres layer is built, never by a static import, so `agentarmour/pg` can
 * name the package when it is missing (see `../index.ts`).
 *
 * Every client made here runs its connections over sockets a layer tracks
 * (the driver's `stream` option), so that the layer can bound its shutdown:
 * a frozen server (or a half-open connection) answers nothing, and the
 * driver's own closing (`UNLISTEN`, `pool.end`, the cancel of a query in
 * flight, a connection being opened) would wait for it forever. Once the
 * bound has passed, `closeWithin` destroys every socket, which settles
 * whatever waits on them.
 *
 * @internal
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Socket } from "node:net"
import type { Duplex } from "node:stream"

import { missingPeer } from "../../internal/peer.js"

const load = Effect.tryPromise({
  try: () => import("@effect/sql-pg/PgClient"),
  catch: () => new Error(missingPeer("@effect/sql-pg", "agentarmour/pg"))
}).pipe(Effect.orDie)

/**
 * A connection whose startup is never answered must not hold a layer:
 * without a `connectTimeout` the driver waits forever (and `@effect/sql-pg`
 * connects in an uninterruptible region).
 */
const defaultConnectTimeout = Duration.seconds(5)

const closed = () => new Error("agentarmour: the layer is closed")

/** the sockets of a layer's clients, destroyable at once */
export class Sockets {
  private readonly open = new Set<Duplex>()
  private destroyed = false
  /** the bound's timer, once the close has begun */
  timer: Fiber.RuntimeFiber<void> | undefined = undefined

  /** the driver's `stream` option: every connection's socket, tracked (made by the user's own factory, if any) */
  readonly stream = (make?: () => Duplex): () => Duplex => () => {
    const socket = make === undefined ? new Socket() : make()
    if (this.destroyed) {
      // after the bound: a connection opened now (a cancel, a reconnect) fails at once
      queueMicrotask(() => socket.destroy(closed()))
      return socket
    }
    this.open.add(socket)
    socket.once("close", () => this.open.delete(socket))
    return socket
  }

  /** destroys every socket, and every later one as it is made */
  destroyAll(): void {
    this.destroyed = true
    for (const socket of this.open) socket.destroy(closed())
    this.open.clear()
  }

  /** how many sockets are open */
  get size(): number {
    return this.open.size
  }
}

/**
 * The sockets of the clients a layer makes. Made first while building the
 * layer, its finalizer runs last: when the close has ended, in time or not,
 * the bound's timer is stopped and no socket is left open.
 */
export const sockets: Effect.Effect<Sockets, never, Scope.Scope> = Effect.gen(function*() {
  const tracked = new Sockets()
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      const timer = tracked.timer
      tracked.destroyAll()
      return timer === undefined ? Effect.void : Fiber.interruptFork(timer)
    })
  )
  return tracked
})

/**
 * Bounds the layer's shutdown: once its scope starts closing, after `within`
 * every socket is destroyed (a healthy close ends long before). Call it last
 * while building the layer: finalizers run in reverse order, so the bound
 * starts counting when the close begins, before any other finalizer runs.
 */
export const closeWithin = (
  tracked: Sockets,
  within: Duration.DurationInput
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.addFinalizer(() =>
    Effect.flatMap(
      Effect.forkDaemon(Effect.zipRight(Effect.sleep(within), Effect.sync(() => tracked.destroyAll()))),
      (fiber) => Effect.sync(() => (tracked.timer = fiber))
    )
  )

/** the client's configuration: its connections over `tracked` sockets, and bounded */
const configured = (config: PgClient.PgClientConfig, tracked: Sockets): PgClient.PgClientConfig => ({
  ...config,
  connectTimeout: config.connectTimeout ?? defaultConnectTimeout,
  stream: tracked.stream(config.stream)
})

/** `PgClient.make(config)` over `tracked` sockets, with `@effect/sql-pg` imported when it runs */
export const make = (config: PgClient.PgClientConfig, tracked: Sockets) =>
  Effect.flatMap(load, (PgClientModule) => PgClientModule.make(configured(config, tracked)))

/** `PgClient.layer(config)` over `tracked` sockets, with `@effect/sql-pg` imported when the layer is built */
export const layer = (config: PgClient.PgClientConfig, tracked: Sockets) =>
  Layer.unwrapEffect(Effect.map(load, (PgClientModule) => PgClientModule.layer(configured(config, tracked))))

/**
 * The `PgClient` service tag, built from its key so that reading it does not
 * load `@effect/sql-pg` (the same key as `@effect/sql-pg/PgClient`'s own tag).
 */
export const tag: Context.Tag<PgClient.PgClient, PgClient.PgClient> = Context.GenericTag<PgClient.PgClient>(
  "@effect/sql-pg/PgClient"
)
