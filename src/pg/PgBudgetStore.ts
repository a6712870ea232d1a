/**
 * Per-window budgets shared by every process through Postgres: a
 * `Budget.BudgetStore` on one table, so `perWindow: { calls: 60, window:
 * "1 minute" }` means 60 calls a minute across all replicas.
 *
 * ```ts
 * import { Budget } from "agentarmour"
 * import { PgBudgetStore } from "agentarmour/pg"
 * const Live = PgBudgetStore.layer(pg) // provides Budget.BudgetStore: budgets built with it share their windows
 * ```
 *
 * Each operation is one atomic statement on `cb_budget_window` (one row
 * per key: `window_start`, `calls`, `spent`): taking a call is a conditional
 * upsert that opens a new window when the previous one closed and increments
 * the count only while it is below the limit, so concurrent processes never
 * take more than the limit between them. Windows are fixed, as in the memory
 * store; their times come from each process's `Clock` (hosts in sync).
 *
 * Cost: one statement per call through `withBudget` with a per-window call
 * limit, one per charge, one per token or cost limit checked. A budget fails
 * open (the call runs, a warning is logged) while the database is unreachable.
 *
 * @since 0.2.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"

import * as Budget from "../Budget.js"
import type { LedgerError } from "../internal/ledger/records.js"
import { decodeTablePrefix } from "../internal/tablePrefix.js"
import type { TablePrefix } from "../internal/tablePrefix.js"
import * as PgClientLazy from "./internal/pgClient.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** prefix of the table, default `cb_` (table `cb_budget_window`) */
  readonly tablePrefix?: string | undefined
}

/** how long closing the layer may wait for the statements in flight */
const closeBound = Duration.seconds(1)

const storeError = (cause: unknown) =>
  new Budget.BudgetStoreError({
    message: `the shared budget store failed: ${String((cause as Error)?.message ?? cause)}`,
    cause
  })

/**
 * A store on any `SqlClient` (Postgres for many hosts; SQLite works for
 * processes on one host). A bad `tablePrefix` fails it with a `LedgerError`
 * naming `tablePrefix`, as in every module that takes one.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<Budget.BudgetStore, SqlError | LedgerError, SqlClient.SqlClient> =>
  Effect.flatMap(decodeTablePrefix(options?.tablePrefix), makeWithPrefix)

/** the store on the table of a decoded prefix */
const makeWithPrefix = (prefix: TablePrefix): Effect.Effect<Budget.BudgetStore, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = sql(`${prefix}budget_window`)
    yield* Migrator.make({})({
      loader: Migrator.fromRecord({
        "0001_budget_window": sql`CREATE TABLE IF NOT EXISTS ${t} (
          key TEXT PRIMARY KEY,
          window_start BIGINT NOT NULL,
          calls BIGINT NOT NULL,
          spent DOUBLE PRECISION NOT NULL
        )`
      }),
      table: `${prefix}budget_migrations`
    }).pipe(
      Effect.retry({ times: 8 }),
      Effect.catchTag("MigrationError", (e) => Effect.die(e))
    )

    const read = (key: string) =>
      Effect.map(
        sql<{ window_start: string | number; calls: string | number; spent: string | number }>`
          SELECT window_start, calls, spent FROM ${t} WHERE key = ${key}`,
        (rows) => rows[0]
      )

    const store: Budget.BudgetStore = {
      takeCall: (key, limit, window) =>
        Effect.gen(function*() {
          const w = Duration.toMillis(window)
          if (limit <= 0) return { taken: false, count: 0, retryAfterMillis: w } as const
          const now = yield* Clock.currentTimeMillis
          const expired = sql`${t}.window_start + ${w} <= ${now}`
          const taken = yield* sql`
            INSERT INTO ${t} (key, window_start, calls, spent) VALUES (${key}, ${now}, 1, 0)
            ON CONFLICT (key) DO UPDATE SET
              window_start = CASE WHEN ${expired} THEN excluded.window_start ELSE ${t}.window_start END,
              spent = CASE WHEN ${expired} THEN 0 ELSE ${t}.spent END,
              calls = CASE WHEN ${expired} THEN 1 ELSE ${t}.calls + 1 END
            WHERE ${expired} OR ${t}.calls < ${limit}
            RETURNING calls`
          if (taken.length > 0) return { taken: true } as const
          const row = yield* read(key)
          return {
            taken: false,
            count: row === undefined ? limit : Number(row.calls),
            retryAfterMillis: row === undefined ? w : Math.max(0, Number(row.window_start) + w - now)
          } as const
        }).pipe(Effect.mapError(storeError)),
      spent: (key, window) =>
        Effect.gen(function*() {
          const w = Duration.toMillis(window)
          const now = yield* Clock.currentTimeMillis
          const row = yield* read(key)
          if (row === undefined || Number(row.window_start) + w <= now) return { spent: 0, resetAfterMillis: w }
          return { spent: Number(row.spent), resetAfterMillis: Number(row.window_start) + w - now }
        }).pipe(Effect.mapError(storeError)),
      add: (key, amount, window) =>
        Effect.gen(function*() {
          const w = Duration.toMillis(window)
          const now = yield* Clock.currentTimeMillis
          const expired = sql`${t}.window_start + ${w} <= ${now}`
          yield* sql`
            INSERT INTO ${t} (key, window_start, calls, spent) VALUES (${key}, ${now}, 0, ${amount})
            ON CONFLICT (key) DO UPDATE SET
              window_start = CASE WHEN ${expired} THEN excluded.window_start ELSE ${t}.window_start END,
              calls = CASE WHEN ${expired} THEN 0 ELSE ${t}.calls END,
              spent = CASE WHEN ${expired} THEN excluded.spent ELSE ${t}.spent + excluded.spent END`
        }).pipe(Effect.mapError(storeError))
    }
    return store
  })

/**
 * `Budget.BudgetStore` on the `SqlClient` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSql = (
  options?: Options
): Layer.Layer<Budget.BudgetStore, SqlError | LedgerError, SqlClient.SqlClient> =>
  Layer.effect(Budget.BudgetStore, make(options))

/** after a failed connection, operations fail at once (fail open) for this long before the next attempt */
const reconnectAfter = Duration.seconds(1)

/**
 * A store that connects (and migrates) on its first operation, and again
 * after a failed attempt: a database that is down when the layer is built
 * fails operations (budgets fail open), never the layer. While an attempt
 * runs, or within `reconnectAfter` of a failed one, operations fail at once:
 * no budget call waits for a connection.
 */
const connecting = (
  connect: Effect.Effect<Budget.BudgetStore, unknown, Scope.Scope>
): Effect.Effect<
  Budget.BudgetStore & { readonly ready: Effect.Effect<void, Budget.BudgetStoreError> },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const state: {
      current: Budget.BudgetStore | undefined
      attempt: Deferred.Deferred<Budget.BudgetStore, Budget.BudgetStoreError> | undefined
      failedAt: number
      lastError: Budget.BudgetStoreError | undefined
    } = { current: undefined, attempt: undefined, failedAt: -Infinity, lastError: undefined }
    const attemptOnce = Effect.flatMap(Scope.fork(scope, ExecutionStrategy.sequential), (attempt) =>
      connect.pipe(
        Scope.extend(attempt),
        Effect.mapError(storeError),
        Effect.onError((cause) => Scope.close(attempt, Exit.failCause(cause)))
      ))
    /** the connected store; `wait`: join an attempt in flight (building the layer) rather than fail at once */
    const get = (wait: boolean): Effect.Effect<Budget.BudgetStore, Budget.BudgetStoreError> =>
      Effect.suspend(() => {
        if (state.current !== undefined) return Effect.succeed(state.current)
        if (state.attempt !== undefined) {
          return wait ? Deferred.await(state.attempt) : Effect.fail(state.lastError ?? storeError("connecting"))
        }
        return Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (!wait && now - state.failedAt < Duration.toMillis(reconnectAfter)) {
            return Effect.fail(state.lastError ?? storeError("not connected"))
          }
          return Effect.uninterruptibleMask((restore) =>
            Effect.gen(function*() {
              const done = yield* Deferred.make<Budget.BudgetStore, Budget.BudgetStoreError>()
              state.attempt = done
              const exit = yield* Effect.exit(restore(attemptOnce))
              state.attempt = undefined
              if (Exit.isSuccess(exit)) state.current = exit.value
              else {
                state.failedAt = yield* Clock.currentTimeMillis
                state.lastError = Exit.causeOption(exit).pipe(
                  Option.flatMap(Cause.failureOption),
                  Option.getOrElse(() => storeError("the connection attempt was interrupted"))
                )
              }
              yield* Deferred.done(done, exit)
              return yield* exit
            })
          )
        })
      })
    return {
      ready: Effect.asVoid(get(true)),
      takeCall: (key, limit, window) => Effect.flatMap(get(false), (store) => store.takeCall(key, limit, window)),
      spent: (key, window) => Effect.flatMap(get(false), (store) => store.spent(key, window)),
      add: (key, amount, window) => Effect.flatMap(get(false), (store) => store.add(key, amount, window))
    }
  })

/**
 * `Budget.BudgetStore` in Postgres (one pooled connection by default).
 *
 * It never fails because of its database: built while Postgres is down, its
 * operations fail with `BudgetStoreError` (a budget then fails open: the call
 * runs, a warning is logged) and it connects when Postgres is back. Its
 * only failure is a bad `tablePrefix`: a `LedgerError` naming it.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: PgClient.PgClientConfig & Options
): Layer.Layer<Budget.BudgetStore, Budget.BudgetStoreError | LedgerError> => {
  const { tablePrefix, ...client } = options
  return Layer.scoped(
    Budget.BudgetStore,
    Effect.gen(function*() {
      const prefix = yield* decodeTablePrefix(tablePrefix)
      const tracked = yield* PgClientLazy.sockets
      const connect = Effect.flatMap(
        Effect.provide(PgClientLazy.make({ maxConnections: 2, ...client }, tracked), Reactivity.layer),
        (sql) => Effect.provideService(makeWithPrefix(prefix), SqlClient.SqlClient, sql)
      )
      const store = yield* connecting(connect)
      // a reachable database is connected and migrated before the layer is up (the attempt is bounded
      // by the client's connectTimeout); an unreachable one is tried again by the operations
      yield* Effect.ignore(store.ready)
      // every operation is one statement: closing waits for none of them longer than this
      yield* PgClientLazy.closeWithin(tracked, closeBound)
      const { ready: _ready, ...operations } = store
      return operations
    })
  )
}
