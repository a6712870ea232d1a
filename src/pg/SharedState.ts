/**
 * Breaker state shared across processes: replicas of a pipeline see one
 * breaker per name. When one process opens `research`, the others stop
 * calling it; when one closes it after a successful probe, the others close too.
 *
 * ```ts
 * import { PgLedger, SharedState } from "agentarmour/pg"
 * const Live = Layer.mergeAll(PgLedger.layer(pg), SharedState.layer(pg))
 * ```
 *
 * Each breaker keeps deciding locally (the hot path never waits for the
 * database). Transitions are written in batches (one statement per tick,
 * whatever the number of breakers) with a compare-and-set, so concurrent
 * identical transitions in several processes are written once, and pushed to
 * every process with `NOTIFY` on one `LISTEN` connection per process. While
 * that connection is down, each process reads every row in one query per
 * `syncInterval`; states published while the database is down are re-sent
 * when it returns. See `docs/shared-state.md`.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

import * as internal from "../internal/sharedState.js"
import { decodeTablePrefix } from "../internal/tablePrefix.js"
import type { TablePrefix } from "../internal/tablePrefix.js"
import type * as Ledger from "../Ledger.js"
import * as Core from "../SharedState.js"
import * as PgClientLazy from "./internal/pgClient.js"

/**
 * The service breakers look for (`Effect.serviceOption`): present, they share.
 * The same tag as `SharedState.SharedState` in `agentarmour`.
 *
 * @since 0.1.0
 * @category tags
 */
export const SharedState = Core.SharedState

/**
 * @since 0.1.0
 * @category models
 */
export type SharedState = Core.SharedState

/**
 * @since 0.1.0
 * @category models
 */
export type SharedBreakerState = Core.SharedBreakerState

/**
 * @since 0.2.0
 * @category models
 */
export type SharedStateStatus = Core.SharedStateStatus

/**
 * An in-memory "database" for `layerMemory` (`SharedState.MemoryBoard` in `agentarmour`).
 *
 * @since 0.2.0
 * @category models
 */
export const MemoryBoard = Core.MemoryBoard

/**
 * @since 0.2.0
 * @category models
 */
export type MemoryBoard = Core.MemoryBoard

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Core.Options {
  /** prefix of the state table, default `cb_` (table and channel `cb_breaker_state`) */
  readonly tablePrefix?: string | undefined
}

/**
 * Shared state in memory (`SharedState.layerMemory` in `agentarmour`): `board`
 * plays the database, each layer built from it plays one process.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: (
  board: MemoryBoard | Map<string, SharedBreakerState>,
  options?: Omit<Options, "tablePrefix">
) => Layer.Layer<SharedState> = Core.layerMemory

const engineOptions = internal.engineOptions

interface Row {
  readonly breaker_name: string
  readonly state: string
  readonly opened_at: string | number
  readonly retry_at: string | number | null
  readonly updated_at: string | number
  readonly origin: string
  readonly version: string | number
}

const fromRow = (r: Row): SharedBreakerState => ({
  breaker: r.breaker_name,
  state: r.state as Ledger.BreakerState,
  openedAt: Number(r.opened_at),
  retryAt: r.retry_at === null ? null : Number(r.retry_at),
  updatedAt: Number(r.updated_at),
  origin: r.origin,
  version: Number(r.version)
})

/**
 * The database answered that it refuses the statement's data, which sending
 * it again cannot change: a data exception (SQLSTATE class 22: a NUL byte in
 * TEXT, a `NOTIFY` payload too long), an integrity constraint (23) or a
 * program limit (54: an index row too large). A lost or refused connection
 * (08, 57), a lack of resources (53) or a rolled-back transaction (40) are
 * the database being unavailable.
 */
const refusedData = (e: SqlError): boolean => {
  const code = (e.cause as { readonly code?: unknown } | null | undefined)?.code
  return typeof code === "string" && /^(22|23|54)[0-9A-Z]{3}$/.test(code)
}

/**
 * The state table on any `SqlClient`; on a `PgClient`, writes also `NOTIFY`
 * (in the same statement) and the store listens.
 */
const makeStore = (prefix: TablePrefix): Effect.Effect<internal.SharedStore, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pg = yield* Effect.serviceOption(PgClientLazy.tag)
    const table = `${prefix}breaker_state`
    const t = sql(table)
    yield* Migrator.make({})({
      loader: Migrator.fromRecord({
        "0001_breaker_state": sql`CREATE TABLE IF NOT EXISTS ${t} (
            breaker_name TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            opened_at BIGINT NOT NULL,
            retry_at BIGINT,
            updated_at BIGINT NOT NULL,
            origin TEXT NOT NULL
          )`,
        "0002_breaker_state_versions": Effect.zipRight(
          sql`ALTER TABLE ${t} ADD COLUMN version BIGINT NOT NULL DEFAULT 0`,
          sql`ALTER TABLE ${t} ADD COLUMN from_state TEXT`
        ),
        // the version the last applied transition was decided on (the compare-and-set's expected version)
        "0003_breaker_state_base": sql`ALTER TABLE ${t} ADD COLUMN base_version BIGINT`
      }),
      table: `${prefix}state_migrations`
    }).pipe(
      Effect.retry({ times: 8 }),
      Effect.catchTag("MigrationError", (e) => Effect.die(e))
    )
    const columns = sql`breaker_name, state, opened_at, retry_at, updated_at, origin, version`
    const upsert = (batch: ReadonlyArray<internal.Proposal>) =>
      sql`INSERT INTO ${t} ${
        sql.insert(batch.map((p) => ({
          breaker_name: p.breaker,
          state: p.state,
          from_state: p.from,
          opened_at: p.openedAt,
          retry_at: p.retryAt,
          updated_at: p.updatedAt,
          origin: p.origin,
          version: 1,
          base_version: p.base
        })))
      }
      ON CONFLICT (breaker_name) DO UPDATE SET
        state = excluded.state, from_state = excluded.from_state, opened_at = excluded.opened_at,
        retry_at = excluded.retry_at, origin = excluded.origin, version = ${t}.version + 1,
        base_version = excluded.base_version,
        updated_at = CASE WHEN excluded.updated_at > ${t}.updated_at
          THEN excluded.updated_at ELSE ${t}.updated_at + 1 END
      WHERE ${t}.state <> excluded.state AND (excluded.state = 'OPEN' OR
        (${t}.version = excluded.base_version AND ${t}.state = excluded.from_state))
      RETURNING ${columns}`
    const names = (batch: ReadonlyArray<internal.Proposal>) => batch.map((p) => p.breaker)
    // one statement: the upsert, a NOTIFY per changed row, and the rows it left as they were
    const writePg = (batch: ReadonlyArray<internal.Proposal>) =>
      Effect.map(
        sql<Row & { readonly applied: boolean }>`WITH up AS (${upsert(batch)})
          SELECT ${columns}, TRUE AS applied, pg_notify(${table}, json_build_object(
            'b', breaker_name, 's', state, 'o', opened_at, 'r', retry_at, 'u', updated_at, 'g', origin, 'v', version
          )::text) AS notified FROM up
          UNION ALL
          SELECT ${columns}, FALSE AS applied, NULL AS notified FROM ${t}
          WHERE breaker_name IN ${sql.in(names(batch))} AND breaker_name NOT IN (SELECT breaker_name FROM up)`,
        (rows): internal.WriteResult => ({
          changed: rows.filter((r) => r.applied).map(fromRow),
          unchanged: rows.filter((r) => !r.applied).map(fromRow)
        })
      )
    // elsewhere (SQLite: no statement inside WITH): the upsert, then the rows it did not change
    const writeSql = (batch: ReadonlyArray<internal.Proposal>) =>
      Effect.gen(function*() {
        const changed = (yield* sql<Row>`${upsert(batch)}`).map(fromRow)
        const won = new Set(changed.map((r) => r.breaker))
        const lost = names(batch).filter((n) => !won.has(n))
        const unchanged = lost.length === 0
          ? []
          : (yield* sql<Row>`SELECT ${columns} FROM ${t} WHERE breaker_name IN ${sql.in(lost)}`).map(fromRow)
        return { changed, unchanged } satisfies internal.WriteResult
      })
    const write = Option.isSome(pg) ? writePg : writeSql
    return {
      write: (batch) =>
        write(batch).pipe(
          Effect.mapError((e) => refusedData(e) ? new internal.RowsRejected({ cause: e.cause }) : e)
        ),
      readAll: Effect.map(sql<Row>`SELECT ${columns} FROM ${t}`, (rows) => rows.map(fromRow)),
      listen: Option.map(pg, (client) => ({
        stream: client.listen(table),
        ping: (payload: string) => Effect.asVoid(sql`SELECT pg_notify(${table}, ${payload})`)
      }))
    } satisfies internal.SharedStore
  })

/**
 * Shared state in a table of any `SqlClient`. On a `PgClient` (Postgres)
 * it pushes through `LISTEN`/`NOTIFY`; on others (SQLite, for processes on
 * one host) it polls every row in one query per `syncInterval`.
 *
 * An interval that is negative, NaN, infinite or unparsable fails the layer
 * with a `ParseError` naming the option
 * (`SharedState.layerSql: syncInterval must be a non-negative duration, got -1`);
 * a bad `tablePrefix` fails it with a `LedgerError` naming `tablePrefix`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql = (
  options?: Options
): Layer.Layer<SharedState, SqlError | ParseResult.ParseError | Ledger.LedgerError, SqlClient.SqlClient> =>
  Layer.scoped(
    SharedState,
    Effect.gen(function*() {
      const engine = yield* engineOptions("SharedState.layerSql", options)
      const prefix = yield* decodeTablePrefix(options?.tablePrefix)
      const store = yield* makeStore(prefix)
      return yield* internal.make(store, engine)
    })
  )

/**
 * A store that connects (and migrates) on its first statement, and again
 * after a failed attempt: a database that is down when the layer is built
 * fails statements, which the engine retries, never the layer.
 */
const connectingStore = (
  connect: Effect.Effect<internal.SharedStore, unknown, Scope.Scope>
): Effect.Effect<internal.SharedStore, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const lock = yield* Effect.makeSemaphore(1)
    let current: internal.SharedStore | undefined
    const get: Effect.Effect<internal.SharedStore, unknown> = lock.withPermits(1)(Effect.suspend(() => {
      if (current !== undefined) return Effect.succeed(current)
      return Effect.flatMap(Scope.fork(scope, ExecutionStrategy.sequential), (attempt) =>
        connect.pipe(
          Scope.extend(attempt),
          Effect.tap((store) => Effect.sync(() => (current = store))),
          Effect.onError((cause) => Scope.close(attempt, Exit.failCause(cause)))
        ))
    }))
    return {
      write: (batch) => Effect.flatMap(get, (store) => store.write(batch)),
      readAll: Effect.flatMap(get, (store) => store.readAll),
      listen: Option.some({
        stream: Stream.unwrap(Effect.map(get, (store) =>
          Option.match(store.listen, {
            onNone: () => Stream.fail("not listening" as const),
            onSome: (l) => l.stream
          }))),
        ping: (payload: string) =>
          Effect.flatMap(get, (store) =>
            Option.match(store.listen, {
              onNone: () => Effect.fail("not listening" as const),
              onSome: (l) => l.ping(payload)
            }))
      })
    } satisfies internal.SharedStore
  })

/**
 * Shared state in Postgres: one connection for statements and one `LISTEN`
 * connection per process (`maxConnections` defaults to 1).
 *
 * It never fails because of its database: built while Postgres is down, it
 * starts with breakers deciding alone, keeps their states and connects (and
 * publishes them) when Postgres comes back.
 *
 * Its only failure is a bad option: an interval that is negative, NaN,
 * infinite or unparsable fails the layer with a `ParseError` naming it
 * (`SharedState.layer: heartbeatTimeout must be a non-negative duration, got NaN`),
 * a `tablePrefix` that is not letters, digits and `_` with a `LedgerError`
 * naming `tablePrefix` (as every ledger does).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: PgClient.PgClientConfig & Options
): Layer.Layer<SharedState, Ledger.LedgerError | ParseResult.ParseError> => {
  const {
    heartbeatInterval,
    heartbeatTimeout,
    publishInterval,
    readInterval,
    syncInterval,
    tablePrefix,
    ...client
  } = options
  const engine = { syncInterval, publishInterval, heartbeatInterval, heartbeatTimeout, readInterval }
  const connect = (prefix: TablePrefix, tracked: PgClientLazy.Sockets) =>
    Effect.flatMap(
      Effect.provide(PgClientLazy.make({ maxConnections: 1, ...client }, tracked), Reactivity.layer),
      (pg) =>
        makeStore(prefix).pipe(
          Effect.provideService(SqlClient.SqlClient, pg),
          Effect.provideService(PgClientLazy.tag, pg)
        )
    )
  // options (and the origin) per build: one layer value built twice is two processes
  return Layer.scoped(
    SharedState,
    Effect.gen(function*() {
      const options = yield* engineOptions("SharedState.layer", engine)
      const prefix = yield* decodeTablePrefix(tablePrefix)
      const tracked = yield* PgClientLazy.sockets
      const store = yield* connectingStore(connect(prefix, tracked))
      // a reachable database is connected and migrated before the layer is up (as a
      // failed or slow first attempt does not fail it: the engine retries)
      yield* store.readAll.pipe(Effect.timeout("5 seconds"), Effect.ignore)
      const shared = yield* internal.make(store, options)
      // closing: the last publication gets `internal.finalFlush`, then whatever still
      // waits on the database (a frozen server answers nothing) is cut
      yield* PgClientLazy.closeWithin(tracked, Duration.sum(internal.finalFlush, Duration.millis(500)))
      return shared
    })
  )
}
