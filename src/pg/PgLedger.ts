/**
 * The audit ledger in PostgreSQL, for pipelines running in many processes
 * that should write one ledger.
 *
 * ```ts
 * import { PgLedger } from "agentarmour/pg"
 * const LedgerLive = PgLedger.layer({ url: Redacted.make(process.env.DATABASE_URL!) })
 * ```
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"

import * as duration from "../internal/duration.js"
import * as internal from "../internal/sqlLedger.js"
import * as Ledger from "../Ledger.js"
import * as PgClientLazy from "./internal/pgClient.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends PgClient.PgClientConfig, Ledger.SqlOptions {}

/**
 * A read-write ledger in Postgres: runs its migrations (tables `cb_*` as in
 * the SQLite ledger; ids are `BIGSERIAL`), batches writes in a background
 * fiber (one `INSERT ... SELECT FROM unnest(...)` per table and batch),
 * flushes when the layer's scope closes (for at most `flushTimeout`).
 *
 * It never fails because of its database: when the server cannot be reached
 * the ledger runs degraded (one warning, records counted dropped) and retries
 * on `reopenSchedule`. It fails with a `LedgerError` only on bad options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Ledger.Ledger, Ledger.LedgerError | ParseResult.ParseError> => {
  const {
    batchSize,
    flushTimeout,
    pruneInterval,
    queueCapacity,
    reopenSchedule,
    retention,
    tablePrefix,
    writeRetry,
    ...client
  } = options
  const target = client.url !== undefined
    ? "the Postgres ledger"
    : `the Postgres ledger at ${client.host ?? "localhost"}:${client.port ?? 5432}`
  return Layer.scoped(
    Ledger.Ledger,
    Effect.gen(function*() {
      const tracked = yield* PgClientLazy.sockets
      const ledger = yield* internal.make({
        batchSize,
        flushTimeout,
        pruneInterval,
        queueCapacity,
        reopenSchedule,
        retention,
        tablePrefix,
        writeRetry
      }, {
        target,
        owner: "PgLedger.layer",
        connect: Effect.provide(PgClientLazy.make(client, tracked), Reactivity.layer)
      })
      // closing flushes for at most flushTimeout; then whatever still waits on the
      // database (a frozen server answers nothing) is cut
      yield* PgClientLazy.closeWithin(tracked, closeBound(flushTimeout))
      return ledger
    })
  )
}

/** how long closing may take: the flush's `flushTimeout` (validated by the ledger), then half a second */
const closeBound = (flushTimeout: Duration.DurationInput | undefined): Duration.Duration =>
  Duration.sum(
    Either.getOrElse(duration.decodeDuration(flushTimeout ?? "10 seconds"), () => Duration.seconds(10)),
    Duration.millis(500)
  )
