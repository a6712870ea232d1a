/**
 * The ledger on any `SqlClient`: migrations, a bounded write queue drained
 * in batches by a background fiber, reads computed in SQL.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Ledger from "../Ledger.js"

type Item =
  | { readonly _tag: "failure"; readonly record: Ledger.FailureRecord }
  | { readonly _tag: "transition"; readonly record: Ledger.TransitionRecord }
  | { readonly _tag: "fallback"; readonly record: Ledger.FallbackRecord }
  | { readonly _tag: "quarantine"; readonly record: Ledger.QuarantineRecord }

const { droppedRecords, writeErrors } = Ledger

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/

/** table names of a ledger */
export const tables = (prefix: string) => {
  if (!PREFIX.test(prefix)) {
    throw new Ledger.LedgerError({ message: `invalid tablePrefix ${JSON.stringify(prefix)}: use letters, digits and _` })
  }
  return {
    failures: `${prefix}failures`,
    transitions: `${prefix}transitions`,
    fallbacks: `${prefix}fallbacks`,
    quarantines: `${prefix}quarantines`,
    migrations: `${prefix}migrations`
  }
}

/** runs the migrations of a ledger with this prefix (idempotent) */
export const migrate = (prefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    const id = sql.onDialectOrElse({
      pg: () => sql.unsafe("BIGSERIAL PRIMARY KEY"),
      mysql: () => sql.unsafe("BIGINT AUTO_INCREMENT PRIMARY KEY"),
      orElse: () => sql.unsafe("INTEGER PRIMARY KEY AUTOINCREMENT")
    })
    const init = Effect.gen(function*() {
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.failures)} (
        id ${id},
        breaker_name TEXT NOT NULL,
        category TEXT NOT NULL,
        error_type TEXT NOT NULL,
        error_message TEXT NOT NULL,
        traceback TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${t.failures}_breaker_idx`)} ON ${sql(t.failures)} (breaker_name, created_at)`
      yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${t.failures}_time_idx`)} ON ${sql(t.failures)} (created_at)`
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.transitions)} (
        id ${id},
        breaker_name TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${t.transitions}_breaker_idx`)} ON ${sql(t.transitions)} (breaker_name, created_at)`
      yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${t.transitions}_time_idx`)} ON ${sql(t.transitions)} (created_at)`
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.fallbacks)} (
        id ${id},
        breaker_name TEXT NOT NULL,
        strategy TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${t.fallbacks}_breaker_idx`)} ON ${sql(t.fallbacks)} (breaker_name, created_at)`
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.quarantines)} (
        id ${id},
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        node TEXT NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${t.quarantines}_node_idx`)} ON ${sql(t.quarantines)} (node, created_at)`
    })
    yield* Migrator.make({})({
      loader: Migrator.fromRecord({ "0001_create_ledger": init }),
      table: t.migrations
    })
  })

const iso = (d: Date) => d.toISOString()
const date = (s: unknown) => new Date(String(s))

interface FailureRow {
  readonly breaker_name: string
  readonly category: string
  readonly error_type: string
  readonly error_message: string
  readonly traceback: string
  readonly created_at: string
}
interface TransitionRow {
  readonly breaker_name: string
  readonly from_state: string
  readonly to_state: string
  readonly reason: string
  readonly created_at: string
}

const KINDS = ["failure", "transition", "fallback", "quarantine"] as const
const TABLE_OF = { failure: "failures", transition: "transitions", fallback: "fallbacks", quarantine: "quarantines" } as const

/** record -> row, per kind */
const toRow: { [K in Item["_tag"]]: (r: Extract<Item, { _tag: K }>["record"]) => Record<string, string> } = {
  failure: (r) => ({
    breaker_name: r.breakerName,
    category: r.category,
    error_type: r.errorType,
    error_message: r.errorMessage,
    traceback: r.traceback,
    created_at: iso(r.createdAt)
  }),
  transition: (r) => ({
    breaker_name: r.breakerName,
    from_state: r.fromState,
    to_state: r.toState,
    reason: r.reason,
    created_at: iso(r.createdAt)
  }),
  fallback: (r) => ({ breaker_name: r.breakerName, strategy: r.strategy, created_at: iso(r.createdAt) }),
  quarantine: (r) => ({
    run_id: r.runId,
    key: r.key,
    node: r.node,
    action: r.action,
    reason: r.reason,
    created_at: iso(r.createdAt)
  })
}

const toLedgerError = (what: string) => (e: SqlError) =>
  new Ledger.LedgerError({ message: `could not read ${what} from the ledger: ${e.message}`, cause: e })

const limitOf = (q: Ledger.Query | undefined) => {
  const limit = q?.limit ?? Ledger.DEFAULT_LIMIT
  return Number.isInteger(limit) && limit >= 0 ? limit : Ledger.DEFAULT_LIMIT
}

/** the read side, shared by the read-write ledger and the read-only one (CLI, dashboard) */
export const makeReader = (prefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    const where = (q: Ledger.Query | undefined, column = "breaker_name") =>
      q?.breaker === undefined ? sql`` : sql`WHERE ${sql(column)} = ${q.breaker}`

    /** the newest rows of one table, as records */
    const newest = <Row extends object, A>(
      table: string,
      columns: string,
      what: string,
      toRecord: (row: Row) => A,
      nameColumn = "breaker_name"
    ) =>
    (q?: Ledger.Query): Effect.Effect<ReadonlyArray<A>, Ledger.LedgerError> =>
      sql<Row>`SELECT ${sql.unsafe(columns)} FROM ${sql(table)} ${where(q, nameColumn)} ORDER BY id DESC LIMIT ${limitOf(q)}`.pipe(
        Effect.map((rows) => rows.map(toRecord)),
        Effect.mapError(toLedgerError(what))
      )

    const failures = newest<FailureRow, Ledger.FailureRecord>(
      t.failures,
      "breaker_name, category, error_type, error_message, traceback, created_at",
      "failures",
      (r) =>
        new Ledger.FailureRecord({
          breakerName: r.breaker_name,
          category: r.category as Ledger.FailureCategory,
          errorType: r.error_type,
          errorMessage: r.error_message,
          traceback: r.traceback,
          createdAt: date(r.created_at)
        }, true)
    )
    const transitions = newest<TransitionRow, Ledger.TransitionRecord>(
      t.transitions,
      "breaker_name, from_state, to_state, reason, created_at",
      "transitions",
      (r) =>
        new Ledger.TransitionRecord({
          breakerName: r.breaker_name,
          fromState: r.from_state as Ledger.BreakerState,
          toState: r.to_state as Ledger.BreakerState,
          reason: r.reason,
          createdAt: date(r.created_at)
        }, true)
    )
    const fallbacks = newest<{ breaker_name: string; strategy: string; created_at: string }, Ledger.FallbackRecord>(
      t.fallbacks,
      "breaker_name, strategy, created_at",
      "fallbacks",
      (r) => new Ledger.FallbackRecord({ breakerName: r.breaker_name, strategy: r.strategy, createdAt: date(r.created_at) }, true)
    )
    const quarantines = newest<
      { run_id: string; key: string; node: string; action: string; reason: string; created_at: string },
      Ledger.QuarantineRecord
    >(
      t.quarantines,
      "run_id, key, node, action, reason, created_at",
      "quarantines",
      (r) =>
        new Ledger.QuarantineRecord({
          runId: r.run_id,
          key: r.key,
          node: r.node,
          action: r.action as "quarantine",
          reason: r.reason,
          createdAt: date(r.created_at)
        }, true),
      "node"
    )

    const summary = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const since = new Date(now - 24 * 3600_000).toISOString()
      const f = yield* sql<{ breaker_name: string; total: number | string; day: number | string | null; last_at: string | null }>`
        SELECT breaker_name, COUNT(*) AS total,
          SUM(CASE WHEN created_at >= ${since} THEN 1 ELSE 0 END) AS day,
          MAX(created_at) AS last_at
        FROM ${sql(t.failures)} GROUP BY breaker_name`
      const tr = yield* sql<{ breaker_name: string; total: number | string }>`
        SELECT breaker_name, COUNT(*) AS total FROM ${sql(t.transitions)} GROUP BY breaker_name`
      const latest = yield* sql<{ breaker_name: string; to_state: string }>`
        SELECT t.breaker_name, t.to_state FROM ${sql(t.transitions)} t
        WHERE t.id = (SELECT MAX(t2.id) FROM ${sql(t.transitions)} t2 WHERE t2.breaker_name = t.breaker_name)`
      const fb = yield* sql<{ breaker_name: string; total: number | string }>`
        SELECT breaker_name, COUNT(*) AS total FROM ${sql(t.fallbacks)} GROUP BY breaker_name`
      const names = new Set<string>([...f, ...tr, ...fb].map((r) => r.breaker_name))
      const byName = <R extends { breaker_name: string }>(rows: ReadonlyArray<R>) => new Map(rows.map((r) => [r.breaker_name, r]))
      const fm = byName(f), tm = byName(tr), lm = byName(latest), bm = byName(fb)
      return Array.from(names).sort().map((name) => {
        const fr = fm.get(name)
        return new Ledger.BreakerSummary({
          breakerName: name,
          state: (lm.get(name)?.to_state ?? "CLOSED") as Ledger.BreakerState,
          failuresTotal: Number(fr?.total ?? 0),
          failuresLast24h: Number(fr?.day ?? 0),
          lastFailureAt: fr?.last_at ? date(fr.last_at) : null,
          transitions: Number(tm.get(name)?.total ?? 0),
          fallbacksServed: Number(bm.get(name)?.total ?? 0),
          since: null,
          reason: null,
          calls: 0,
          failures: 0,
          failureRate: 0,
          rejections: 0,
          fallbacks: {}
        })
      })
    }).pipe(Effect.mapError(toLedgerError("the summary")))

    return { failures, transitions, fallbacks, quarantines, summary }
  })

const describeCause = (cause: Cause.Cause<unknown>) => {
  const e = Cause.squash(cause)
  return e instanceof Error ? e.message : String(e)
}

/** the read-write ledger: migrations, write queue, background writer */
export const make = (options: Ledger.SqlOptions): Effect.Effect<Ledger.Ledger, SqlError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.tablePrefix ?? "cb_"
    const t = yield* Effect.try({ try: () => tables(prefix), catch: (e) => e as Ledger.LedgerError }).pipe(Effect.orDie)
    const sql = yield* SqlClient.SqlClient
    yield* sql.onDialectOrElse({
      // better-sqlite3 is synchronous: a long busy timeout would block the whole event
      // loop, so wait at most 50 ms in SQLite and retry from Effect instead
      sqlite: () => sql`PRAGMA busy_timeout = 50`.pipe(Effect.ignore),
      orElse: () => Effect.void
    })
    yield* migrate(prefix).pipe(
      Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(8)))),
      // a broken migration is a bug in this library, not something callers handle
      Effect.catchTag("MigrationError", (e) => Effect.die(e))
    )
    const reader = yield* makeReader(prefix)

    const capacity = Math.max(1, options.queueCapacity ?? 100_000)
    const batchSize = Math.max(1, options.batchSize ?? 1_000)
    const queue = yield* Queue.sliding<Item>(capacity)
    let offered = 0
    let written = 0
    let dropped = 0
    let waiters: Array<{ readonly target: number; readonly done: Deferred.Deferred<void> }> = []

    const offer = (item: Item): Effect.Effect<void> =>
      Effect.suspend(() => {
        offered++
        const size = queue.unsafeSize()
        if (size._tag === "Some" && size.value >= capacity) {
          dropped++
          // the write for `offered` still counts as done when it is dropped
          written++
          return Effect.zipRight(
            Metric.increment(droppedRecords),
            dropped === 1 || dropped % 1000 === 0
              ? Effect.logWarning(`agentarmour ledger: write queue full (${capacity}); ${dropped} oldest records dropped so far`)
              : Effect.void
          ).pipe(Effect.zipRight(Queue.offer(queue, item)), Effect.asVoid)
        }
        return Queue.offer(queue, item)
      })

    const insert = (items: ReadonlyArray<Item>) => {
      const rows: { [K in Item["_tag"]]: Array<Record<string, string>> } = {
        failure: [],
        transition: [],
        fallback: [],
        quarantine: []
      }
      for (const item of items) rows[item._tag].push(toRow[item._tag](item.record as never))
      // SQLite allows 32766 bound parameters per statement: 7 columns x 500 rows stays well below
      const chunks = <A>(rows: Array<A>) => {
        const out: Array<Array<A>> = []
        for (let i = 0; i < rows.length; i += 500) out.push(rows.slice(i, i + 500))
        return out
      }
      return sql.withTransaction(Effect.gen(function*() {
        for (const kind of KINDS) {
          for (const c of chunks(rows[kind])) yield* sql`INSERT INTO ${sql(t[TABLE_OF[kind]])} ${sql.insert(c)}`
        }
      }))
    }

    let failing = false
    const writeBatch = (items: ReadonlyArray<Item>) =>
      insert(items).pipe(
        Effect.tapErrorCause((cause) =>
          Effect.zipRight(
            Metric.increment(writeErrors),
            failing
              ? Effect.void
              : Effect.logWarning(
                `agentarmour ledger: writing ${items.length} records failed, retrying with backoff: ${describeCause(cause)}`
              )
          ).pipe(Effect.zipRight(Effect.sync(() => (failing = true))))
        ),
        // locked (SQLITE_BUSY), read-only or full: back off and try again; nothing is lost meanwhile
        Effect.retry(Schedule.exponential("20 millis").pipe(Schedule.union(Schedule.spaced("2 seconds")))),
        Effect.tap(() =>
          failing
            ? Effect.zipRight(
              Effect.logInfo(`agentarmour ledger: writes recovered`),
              Effect.sync(() => (failing = false))
            )
            : Effect.void
        ),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("agentarmour ledger writer", cause)
        )
      )

    const settle = Effect.suspend(() => {
      const ready = waiters.filter((w) => w.target <= written)
      if (ready.length === 0) return Effect.void
      waiters = waiters.filter((w) => w.target > written)
      return Effect.forEach(ready, (w) => Deferred.succeed(w.done, undefined), { discard: true })
    })

    const writer = Effect.forever(
      Effect.flatMap(Queue.takeBetween(queue, 1, batchSize), (chunk) => {
        const items = Array.from(chunk)
        return writeBatch(items).pipe(
          Effect.zipRight(Effect.sync(() => (written += items.length))),
          Effect.zipRight(settle)
        )
      })
    )
    yield* Effect.forkScoped(writer)

    const flush: Effect.Effect<void> = Effect.suspend(() => {
      const target = offered
      if (written >= target) return Effect.void
      return Effect.flatMap(Deferred.make<void>(), (done) => {
        waiters.push({ target, done })
        return Effect.zipRight(settle, Deferred.await(done))
      })
    })

    // closing the scope writes everything queued (bounded, so a dead database cannot hang shutdown)
    yield* Effect.addFinalizer(() =>
      flush.pipe(
        Effect.timeoutOption(Duration.seconds(10)),
        Effect.flatMap((done) =>
          done._tag === "Some"
            ? Effect.void
            : Effect.logError(`agentarmour ledger: ${offered - written} records could not be written before shutdown`)
        )
      )
    )

    const read = <A, E>(self: Effect.Effect<A, E>) => Effect.zipRight(flush.pipe(Effect.timeoutOption("2 seconds")), self)

    return Ledger.make({
      recordFailure: (record) => offer({ _tag: "failure", record }),
      recordTransition: (record) => offer({ _tag: "transition", record }),
      recordFallback: (record) => offer({ _tag: "fallback", record }),
      recordQuarantine: (record) => offer({ _tag: "quarantine", record }),
      failures: (q) => read(reader.failures(q)),
      transitions: (q) => read(reader.transitions(q)),
      fallbacks: (q) => read(reader.fallbacks(q)),
      quarantines: (q) => read(reader.quarantines(q)),
      summary: read(reader.summary),
      flush
    })
  })
