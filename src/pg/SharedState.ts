/**
 * Breaker state shared across processes: replicas of a pipeline see one
 * breaker per name. When one process opens `research`, the others stop
 * calling it within `syncInterval`; when one closes it after a successful
 * probe, the others close too.
 *
 * ```ts
 * import { PgLedger, SharedState } from "agentarmour/pg"
 * const Live = Layer.mergeAll(PgLedger.layer(pg), SharedState.layer({ ...pg, syncInterval: "1 second" }))
 * ```
 *
 * Each breaker keeps deciding locally (the hot path never waits for the
 * database): it publishes its own transitions in the background and reads
 * the others' at most once per `syncInterval`. Newer states win.
 *
 * @since 0.1.0
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ledger from "../Ledger.js"
import * as internal from "../internal/sharedState.js"
import { durationOption } from "../internal/duration.js"
import * as PgClientLazy from "./internal/pgClient.js"

/**
 * The service breakers look for (`Effect.serviceOption`): present, they share.
 *
 * @since 0.1.0
 * @category tags
 */
export const SharedState = internal.SharedState

/**
 * @since 0.1.0
 * @category models
 */
export type SharedState = internal.SharedState

/**
 * @since 0.1.0
 * @category models
 */
export type SharedBreakerState = internal.SharedBreakerState

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** how often a breaker reads the others' state (default 1 second) */
  readonly syncInterval?: Duration.DurationInput | undefined
  /** prefix of the state table, default `cb_` (table `cb_breaker_state`) */
  readonly tablePrefix?: string | undefined
}

const newOrigin = () => `${process.pid}-${Math.random().toString(36).slice(2, 10)}`

/**
 * Shared state in a table of any `SqlClient` (Postgres for many hosts;
 * SQLite works for processes on one host).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql = (options?: Options): Layer.Layer<SharedState, SqlError, SqlClient.SqlClient> =>
  Layer.effect(
    SharedState,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const prefix = options?.tablePrefix ?? "cb_"
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(prefix)) return yield* Effect.dieMessage(`invalid tablePrefix ${JSON.stringify(prefix)}`)
      const table = `${prefix}breaker_state`
      yield* Migrator.make({})({
        loader: Migrator.fromRecord({
          "0001_breaker_state": sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
            breaker_name TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            opened_at BIGINT NOT NULL,
            retry_at BIGINT,
            updated_at BIGINT NOT NULL,
            origin TEXT NOT NULL
          )`
        }),
        table: `${prefix}state_migrations`
      }).pipe(
        Effect.retry({ times: 8 }),
        Effect.catchTag("MigrationError", (e) => Effect.die(e))
      )
      return {
        origin: newOrigin(),
        syncInterval: durationOption(options?.syncInterval ?? "1 second", "SharedState: syncInterval"),
        publish: (s) =>
          sql`INSERT INTO ${sql(table)} ${
            sql.insert({
              breaker_name: s.breaker,
              state: s.state,
              opened_at: s.openedAt,
              retry_at: s.retryAt,
              updated_at: s.updatedAt,
              origin: s.origin
            })
          }
          ON CONFLICT (breaker_name) DO UPDATE SET
            state = excluded.state, opened_at = excluded.opened_at, retry_at = excluded.retry_at,
            updated_at = excluded.updated_at, origin = excluded.origin
          WHERE ${sql(table)}.updated_at <= excluded.updated_at`.pipe(Effect.asVoid),
        read: (breaker) =>
          sql<{ state: string; opened_at: string | number; retry_at: string | number | null; updated_at: string | number; origin: string }>`
            SELECT state, opened_at, retry_at, updated_at, origin FROM ${sql(table)} WHERE breaker_name = ${breaker}`.pipe(
            Effect.map((rows) =>
              Option.map(Option.fromNullable(rows[0]), (r) => ({
                breaker,
                state: r.state as Ledger.BreakerState,
                openedAt: Number(r.opened_at),
                retryAt: r.retry_at === null ? null : Number(r.retry_at),
                updatedAt: Number(r.updated_at),
                origin: r.origin
              }))
            )
          )
      } satisfies internal.SharedState
    })
  )

/**
 * Shared state in Postgres.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: PgClient.PgClientConfig & Options): Layer.Layer<SharedState, Ledger.LedgerError> => {
  const { syncInterval, tablePrefix, ...client } = options
  return layerSql({ syncInterval, tablePrefix }).pipe(
    Layer.provide(PgClientLazy.layer(client)),
    Layer.mapError((e) =>
      new Ledger.LedgerError({ message: `cannot open the shared breaker state: ${(e as { message?: string }).message ?? String(e)}`, cause: e })
    )
  )
}

/**
 * Shared state in memory: `board` plays the database, each layer built from
 * it plays one process. For tests and single-process experiments.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (
  board: Map<string, SharedBreakerState>,
  options?: Pick<Options, "syncInterval">
): Layer.Layer<SharedState> =>
  Layer.sync(SharedState, () => ({
    origin: newOrigin(),
    syncInterval: durationOption(options?.syncInterval ?? "1 second", "SharedState: syncInterval"),
    publish: (s) =>
      Effect.sync(() => {
        const previous = board.get(s.breaker)
        if (previous === undefined || previous.updatedAt <= s.updatedAt) board.set(s.breaker, s)
      }),
    read: (breaker) => Effect.sync(() => Option.fromNullable(board.get(breaker)))
  }))
