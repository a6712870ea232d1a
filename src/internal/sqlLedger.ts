/**
 * The ledger on any `SqlClient`: migrations, a bounded write queue drained
 * in batches by a background fiber, reads computed in SQL, degraded mode when
 * the database cannot be opened or written, retention.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"

import * as duration from "./duration.js"
import * as Age from "./ledger/age.js"
import * as Counters from "./ledger/callCounters.js"
import * as Metrics from "./ledger/metrics.js"
import type * as Options from "./ledger/options.js"
import * as Records from "./ledger/records.js"
import * as Render from "./ledger/render.js"
import * as Service from "./ledger/service.js"
import { recordCallMembers } from "./ledgerSync.js"
import { DEFAULT_TABLE_PREFIX, isTablePrefix } from "./tablePrefix.js"

type Item =
  | { readonly _tag: "failure"; readonly record: Records.FailureRecord }
  | { readonly _tag: "failureCause"; readonly input: Records.FailureInput }
  | { readonly _tag: "transition"; readonly record: Records.TransitionRecord }
  | { readonly _tag: "fallback"; readonly record: Records.FallbackRecord }
  | { readonly _tag: "quarantine"; readonly record: Records.QuarantineRecord }
  | { readonly _tag: "usage"; readonly record: Records.UsageRecord }
  | { readonly _tag: "toolCall"; readonly record: Records.ToolCallRecord }

type Kind = "failure" | "transition" | "fallback" | "quarantine" | "usage" | "toolCall"

const { droppedRecords, writeErrors } = Metrics

/** table names of a ledger */
export const tables = (prefix: string) => {
  if (!isTablePrefix(prefix)) {
    throw new Records.LedgerError({
      message: `invalid tablePrefix ${JSON.stringify(prefix)}: use letters, digits and _`
    })
  }
  return {
    failures: `${prefix}failures`,
    transitions: `${prefix}transitions`,
    fallbacks: `${prefix}fallbacks`,
    quarantines: `${prefix}quarantines`,
    stats: `${prefix}stats`,
    statsFallbacks: `${prefix}stats_fallbacks`,
    totals: `${prefix}totals`,
    usage: `${prefix}usage`,
    toolCalls: `${prefix}tool_calls`,
    migrations: `${prefix}migrations`
  }
}

const TABLE_OF = {
  failure: "failures",
  transition: "transitions",
  fallback: "fallbacks",
  quarantine: "quarantines",
  usage: "usage",
  toolCall: "toolCalls"
} as const

/** runs the migrations of a ledger with this prefix (idempotent; an older ledger is upgraded) */
export const migrate = (prefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    const id = sql.onDialectOrElse({
      pg: () => sql.unsafe("BIGSERIAL PRIMARY KEY"),
      mysql: () => sql.unsafe("BIGINT AUTO_INCREMENT PRIMARY KEY"),
      orElse: () => sql.unsafe("INTEGER PRIMARY KEY AUTOINCREMENT")
    })
    const index = (name: string, table: string, columns: string) =>
      sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_${name}`)} ON ${sql(table)} (${sql.unsafe(columns)})`
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
      yield* index("breaker_idx", t.failures, "breaker_name, created_at")
      yield* index("time_idx", t.failures, "created_at")
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.transitions)} (
        id ${id},
        breaker_name TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* index("breaker_idx", t.transitions, "breaker_name, created_at")
      yield* index("time_idx", t.transitions, "created_at")
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.fallbacks)} (
        id ${id},
        breaker_name TEXT NOT NULL,
        strategy TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* index("breaker_idx", t.fallbacks, "breaker_name, created_at")
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.quarantines)} (
        id ${id},
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        node TEXT NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* index("node_idx", t.quarantines, "node, created_at")
    })
    // 0.2: call statistics, usage, and indexes matching the reads (per breaker in id order, by time)
    const statsUsageIndexes = Effect.gen(function*() {
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.stats)} (
        breaker_name TEXT NOT NULL,
        minute TEXT NOT NULL,
        calls BIGINT NOT NULL DEFAULT 0,
        failures BIGINT NOT NULL DEFAULT 0,
        rejections BIGINT NOT NULL DEFAULT 0,
        timeouts BIGINT NOT NULL DEFAULT 0,
        slow_calls BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (breaker_name, minute)
      )`
      yield* index("minute_idx", t.stats, "minute")
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.statsFallbacks)} (
        breaker_name TEXT NOT NULL,
        minute TEXT NOT NULL,
        strategy TEXT NOT NULL,
        count BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (breaker_name, minute, strategy)
      )`
      yield* index("minute_idx", t.statsFallbacks, "minute")
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.usage)} (
        id ${id},
        node TEXT NOT NULL,
        budget TEXT NOT NULL,
        run_id TEXT,
        model TEXT,
        tokens_in BIGINT NOT NULL,
        tokens_out BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* index("time_idx", t.usage, "created_at")
      yield* index("node_idx", t.usage, "node, id")
      yield* index("run_idx", t.usage, "run_id, id")
      yield* index("breaker_id_idx", t.failures, "breaker_name, id")
      yield* index("breaker_id_idx", t.transitions, "breaker_name, id")
      yield* index("breaker_id_idx", t.fallbacks, "breaker_name, id")
      yield* index("time_idx", t.fallbacks, "created_at")
      yield* index("node_id_idx", t.quarantines, "node, id")
      yield* index("time_idx", t.quarantines, "created_at")
      // per-breaker running totals, kept by the writer in the same transaction as the rows:
      // the summary reads 1 row per breaker instead of counting millions
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.totals)} (
        breaker_name TEXT PRIMARY KEY,
        failures BIGINT NOT NULL DEFAULT 0,
        last_failure_at TEXT,
        transitions BIGINT NOT NULL DEFAULT 0,
        fallbacks BIGINT NOT NULL DEFAULT 0
      )`
      yield* rebuildTotals(prefix)
    })
    // 0.3: ToolGuard's decisions
    const toolCalls = Effect.gen(function*() {
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.toolCalls)} (
        id ${id},
        run_id TEXT,
        node TEXT NOT NULL,
        tool TEXT NOT NULL,
        call_id TEXT,
        outcome TEXT NOT NULL,
        detail TEXT,
        created_at TEXT NOT NULL
      )`
      yield* index("tool_idx", t.toolCalls, "tool, id")
      yield* index("run_idx", t.toolCalls, "run_id, id")
      yield* index("time_idx", t.toolCalls, "created_at")
    })
    yield* Migrator.make({})({
      loader: Migrator.fromRecord({
        "0001_create_ledger": init,
        "0002_stats_usage_indexes": statsUsageIndexes,
        "0003_tool_calls": toolCalls
      }),
      table: t.migrations
    })
  })

/** recomputes the per-breaker totals from the rows (migration of an existing ledger) */
export const rebuildTotals = (prefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    yield* sql`DELETE FROM ${sql(t.totals)}`
    yield* sql`INSERT INTO ${sql(t.totals)} (breaker_name, failures, last_failure_at, transitions, fallbacks)
      SELECT breaker_name, SUM(f), MAX(l), SUM(tr), SUM(fb) FROM (
        SELECT breaker_name, COUNT(*) AS f, MAX(created_at) AS l, 0 AS tr, 0 AS fb FROM ${
      sql(t.failures)
    } GROUP BY breaker_name
        UNION ALL
        SELECT breaker_name, 0, NULL, COUNT(*), 0 FROM ${sql(t.transitions)} GROUP BY breaker_name
        UNION ALL
        SELECT breaker_name, 0, NULL, 0, COUNT(*) FROM ${sql(t.fallbacks)} GROUP BY breaker_name
      ) x GROUP BY breaker_name`
  })

const iso = (d: Date) => d.toISOString()
const date = (s: unknown) => new Date(String(s))
const num = (n: unknown) => (n === null || n === undefined ? 0 : Number(n))

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
type Row = Record<string, string | number | null>

/** renders a failure; the same error object failing again is rendered once */
const renderCache = new WeakMap<
  object,
  { readonly errorType: string; readonly errorMessage: string; readonly traceback: string }
>()
const render = (input: Records.FailureInput): Records.FailureRecord => {
  const single = input.cause._tag === "Fail"
    ? input.cause.error
    : input.cause._tag === "Die"
    ? input.cause.defect
    : undefined
  if (single !== null && typeof single === "object") {
    const hit = renderCache.get(single)
    if (hit !== undefined) {
      return new Records.FailureRecord({
        ...hit,
        breakerName: input.breakerName,
        category: input.category,
        createdAt: input.createdAt
      }, true)
    }
    const record = Render.failureFromInput(input)
    renderCache.set(single, {
      errorType: record.errorType,
      errorMessage: record.errorMessage,
      traceback: record.traceback
    })
    return record
  }
  return Render.failureFromInput(input)
}

/** record -> row, per kind */
const toRow = (item: Item): [Kind, Row] => {
  switch (item._tag) {
    case "failureCause":
    case "failure": {
      const r = item._tag === "failure" ? item.record : render(item.input)
      return ["failure", {
        breaker_name: r.breakerName,
        category: r.category,
        error_type: r.errorType,
        error_message: r.errorMessage,
        traceback: r.traceback,
        created_at: iso(r.createdAt)
      }]
    }
    case "transition": {
      const r = item.record
      return ["transition", {
        breaker_name: r.breakerName,
        from_state: r.fromState,
        to_state: r.toState,
        reason: r.reason,
        created_at: iso(r.createdAt)
      }]
    }
    case "fallback":
      return ["fallback", {
        breaker_name: item.record.breakerName,
        strategy: item.record.strategy,
        created_at: iso(item.record.createdAt)
      }]
    case "quarantine": {
      const r = item.record
      return ["quarantine", {
        run_id: r.runId,
        key: r.key,
        node: r.node,
        action: r.action,
        reason: r.reason,
        created_at: iso(r.createdAt)
      }]
    }
    case "usage": {
      const r = item.record
      return ["usage", {
        node: r.node,
        budget: r.budget,
        run_id: r.runId,
        model: r.model,
        tokens_in: r.tokensIn,
        tokens_out: r.tokensOut,
        cost_usd: r.costUsd,
        created_at: iso(r.createdAt)
      }]
    }
    case "toolCall": {
      const r = item.record
      return ["toolCall", {
        run_id: r.runId,
        node: r.node,
        tool: r.tool,
        call_id: r.callId,
        outcome: r.outcome,
        detail: r.detail,
        created_at: iso(r.createdAt)
      }]
    }
  }
}

/** Postgres types of the columns, for `unnest` */
const PG_TYPES: Record<string, string> = { tokens_in: "bigint", tokens_out: "bigint", cost_usd: "float8" }

const toLedgerError = (what: string) => (e: SqlError) =>
  new Records.LedgerError({ message: `could not read ${what} from the ledger: ${e.message}`, cause: e })

const limitOf = (q: { readonly limit?: number | undefined } | undefined, fallback = Records.DEFAULT_LIMIT) => {
  const limit = q?.limit ?? fallback
  return Number.isInteger(limit) && limit >= 0 ? limit : fallback
}

const DAY_MILLIS = 24 * 3600_000

/** the read side, shared by the read-write ledger and the read-only one (CLI, dashboard) */
export const makeReader = (prefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    const where = (q: Records.Query | undefined, column = "breaker_name") =>
      q?.breaker === undefined ? sql`` : sql`WHERE ${sql(column)} = ${q.breaker}`

    /** the newest rows of one table, as records (an index on (name, id) serves the filtered read) */
    const newest = <Row extends object, A>(
      table: string,
      columns: string,
      what: string,
      toRecord: (row: Row) => A,
      nameColumn = "breaker_name"
    ) =>
    (q?: Records.Query): Effect.Effect<ReadonlyArray<A>, Records.LedgerError> =>
      sql<Row>`SELECT ${sql.unsafe(columns)} FROM ${sql(table)} ${where(q, nameColumn)} ORDER BY id DESC LIMIT ${
        limitOf(q)
      }`.pipe(
        Effect.map((rows) => rows.map(toRecord)),
        Effect.mapError(toLedgerError(what))
      )

    const failures = newest<FailureRow, Records.FailureRecord>(
      t.failures,
      "breaker_name, category, error_type, error_message, traceback, created_at",
      "failures",
      (r) =>
        new Records.FailureRecord({
          breakerName: r.breaker_name,
          category: r.category as Records.FailureCategory,
          errorType: r.error_type,
          errorMessage: r.error_message,
          traceback: r.traceback,
          createdAt: date(r.created_at)
        }, true)
    )
    const transitions = newest<TransitionRow, Records.TransitionRecord>(
      t.transitions,
      "breaker_name, from_state, to_state, reason, created_at",
      "transitions",
      (r) =>
        new Records.TransitionRecord({
          breakerName: r.breaker_name,
          fromState: r.from_state as Records.BreakerState,
          toState: r.to_state as Records.BreakerState,
          reason: r.reason,
          createdAt: date(r.created_at)
        }, true)
    )
    const fallbacks = newest<{ breaker_name: string; strategy: string; created_at: string }, Records.FallbackRecord>(
      t.fallbacks,
      "breaker_name, strategy, created_at",
      "fallbacks",
      (r) =>
        new Records.FallbackRecord(
          { breakerName: r.breaker_name, strategy: r.strategy, createdAt: date(r.created_at) },
          true
        )
    )
    const quarantines = newest<
      { run_id: string; key: string; node: string; action: string; reason: string; created_at: string },
      Records.QuarantineRecord
    >(
      t.quarantines,
      "run_id, key, node, action, reason, created_at",
      "quarantines",
      (r) =>
        new Records.QuarantineRecord({
          runId: r.run_id,
          key: r.key,
          node: r.node,
          action: r.action as "quarantine",
          reason: r.reason,
          createdAt: date(r.created_at)
        }, true),
      "node"
    )

    type StatsRow = {
      breaker_name: string
      minute: string
      calls: unknown
      failures: unknown
      rejections: unknown
      timeouts: unknown
      slow_calls: unknown
    }
    type StatsFallbackRow = { breaker_name: string; minute: string; strategy: string; count: unknown }

    const callStats = (q?: Records.StatsQuery): Effect.Effect<ReadonlyArray<Records.CallStats>, Records.LedgerError> =>
      Effect.gen(function*() {
        const conditions = [
          ...(q?.breaker === undefined ? [] : [sql`breaker_name = ${q.breaker}`]),
          ...(q?.since === undefined ? [] : [sql`minute >= ${Counters.minuteOf(q.since.getTime())}`])
        ]
        const rows = yield* sql<StatsRow>`SELECT breaker_name, minute, calls, failures, rejections, timeouts, slow_calls
          FROM ${sql(t.stats)} ${conditions.length === 0 ? sql`` : sql`WHERE ${sql.and(conditions)}`}
          ORDER BY minute, breaker_name`
        const fb = yield* sql<StatsFallbackRow>`SELECT breaker_name, minute, strategy, count
          FROM ${sql(t.statsFallbacks)} ${conditions.length === 0 ? sql`` : sql`WHERE ${sql.and(conditions)}`}`
        const fallbacksOf = new Map<string, Record<string, number>>()
        for (const r of fb) {
          const key = `${r.breaker_name}\u0000${r.minute}`
          const m = fallbacksOf.get(key) ?? {}
          m[r.strategy] = num(r.count)
          fallbacksOf.set(key, m)
        }
        const out = rows.map((r) => {
          const key = `${r.breaker_name}\u0000${r.minute}`
          const fallbacks = fallbacksOf.get(key) ?? {}
          fallbacksOf.delete(key)
          return Counters.callStatsOf({
            breakerName: r.breaker_name,
            minute: date(r.minute),
            calls: num(r.calls),
            failures: num(r.failures),
            rejections: num(r.rejections),
            timeouts: num(r.timeouts),
            slowCalls: num(r.slow_calls),
            fallbacks
          })
        })
        // minutes with fallbacks but no call recorded
        for (const [key, fallbacks] of fallbacksOf) {
          const [breakerName, minute] = key.split("\u0000") as [string, string]
          out.push(Counters.callStatsOf({
            breakerName,
            minute: date(minute),
            calls: 0,
            failures: 0,
            rejections: 0,
            timeouts: 0,
            slowCalls: 0,
            fallbacks
          }))
        }
        return out.sort((a, b) => a.minute.getTime() - b.minute.getTime() || (a.breakerName < b.breakerName ? -1 : 1))
      }).pipe(Effect.mapError(toLedgerError("call statistics")))

    const usage = (q?: Records.UsageQuery): Effect.Effect<ReadonlyArray<Records.UsageSummary>, Records.LedgerError> => {
      const key = q?.by === "run" ? sql`COALESCE(run_id, '-')` : sql`node`
      const since = q?.since === undefined ? sql`` : sql`WHERE created_at >= ${iso(q.since)}`
      return sql<{ key: string; calls: unknown; tokens_in: unknown; tokens_out: unknown; cost_usd: unknown }>`
        SELECT ${key} AS key, COUNT(*) AS calls, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out,
          SUM(cost_usd) AS cost_usd
        FROM ${sql(t.usage)} ${since} GROUP BY ${key} ORDER BY SUM(cost_usd) DESC, ${key} LIMIT ${limitOf(q, 100)}`
        .pipe(
          Effect.map((rows) =>
            rows.map((r) =>
              new Records.UsageSummary({
                key: r.key,
                calls: num(r.calls),
                tokensIn: num(r.tokens_in),
                tokensOut: num(r.tokens_out),
                costUsd: num(r.cost_usd)
              }, true)
            )
          ),
          Effect.mapError(toLedgerError("usage"))
        )
    }

    /** one grouped, indexed query per table; never a per-row subquery */
    const summary = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const since = new Date(now - DAY_MILLIS).toISOString()
      const sinceMinute = Counters.minuteOf(now - DAY_MILLIS)
      // the running totals (one row per breaker); a 0.1 file read without migrating has none: count
      const totals = yield* sql<
        { breaker_name: string; failures: unknown; last_at: string | null; transitions: unknown; fallbacks: unknown }
      >`
        SELECT breaker_name, failures, last_failure_at AS last_at, transitions, fallbacks FROM ${sql(t.totals)}
        WHERE failures > 0 OR transitions > 0 OR fallbacks > 0`.pipe(
        Effect.catchAll(() =>
          sql<
            {
              breaker_name: string
              failures: unknown
              last_at: string | null
              transitions: unknown
              fallbacks: unknown
            }
          >`
            SELECT breaker_name, SUM(f) AS failures, MAX(l) AS last_at, SUM(tr) AS transitions, SUM(fb) AS fallbacks FROM (
              SELECT breaker_name, COUNT(*) AS f, MAX(created_at) AS l, 0 AS tr, 0 AS fb FROM ${
            sql(t.failures)
          } GROUP BY breaker_name
              UNION ALL
              SELECT breaker_name, 0, NULL, COUNT(*), 0 FROM ${sql(t.transitions)} GROUP BY breaker_name
              UNION ALL
              SELECT breaker_name, 0, NULL, 0, COUNT(*) FROM ${sql(t.fallbacks)} GROUP BY breaker_name
            ) x GROUP BY breaker_name`
        )
      )
      // the last 24 hours: one covering range of the (breaker_name, created_at) index per breaker
      // (a correlated count per breaker of the totals, not per row)
      const day = yield* sql<{ breaker_name: string; total: unknown }>`
        SELECT b.breaker_name, (SELECT COUNT(*) FROM ${sql(t.failures)} f
          WHERE f.breaker_name = b.breaker_name AND f.created_at >= ${since}) AS total
        FROM ${sql(t.totals)} b WHERE b.failures > 0`.pipe(
        Effect.catchAll(() =>
          sql<{ breaker_name: string; total: unknown }>`
            SELECT breaker_name, COUNT(*) AS total FROM ${sql(t.failures)}
            WHERE created_at >= ${since} GROUP BY breaker_name`
        )
      )
      const latest = yield* sql<{ breaker_name: string; to_state: string; reason: string; created_at: string }>`
        SELECT t.breaker_name, t.to_state, t.reason, t.created_at
        FROM (SELECT breaker_name, MAX(id) AS id FROM ${sql(t.transitions)} GROUP BY breaker_name) m
        JOIN ${sql(t.transitions)} t ON t.id = m.id`
      // tables added in 0.2 may be missing in an older file read without migrating (CLI, dashboard)
      const stats = yield* sql<
        { breaker_name: string; calls: unknown; failures: unknown; timeouts: unknown; rejections: unknown }
      >`
        SELECT breaker_name, SUM(calls) AS calls, SUM(failures) AS failures, SUM(timeouts) AS timeouts,
          SUM(rejections) AS rejections
        FROM ${sql(t.stats)} WHERE minute >= ${sinceMinute} GROUP BY breaker_name`.pipe(
        Effect.orElseSucceed(() => [])
      )
      const sfb = yield* sql<{ breaker_name: string; strategy: string; total: unknown }>`
        SELECT breaker_name, strategy, SUM(count) AS total FROM ${sql(t.statsFallbacks)}
        WHERE minute >= ${sinceMinute} GROUP BY breaker_name, strategy`.pipe(Effect.orElseSucceed(() => []))
      const names = new Set<string>([...totals, ...latest, ...stats, ...sfb].map((r) => r.breaker_name))
      const byName = <R extends { breaker_name: string }>(rows: ReadonlyArray<R>) =>
        new Map(rows.map((r) => [r.breaker_name, r]))
      const fm = byName(totals), dm = byName(day), lm = byName(latest), sm = byName(stats)
      const fallbacksOf = new Map<string, Record<string, number>>()
      for (const r of sfb) {
        const m = fallbacksOf.get(r.breaker_name) ?? {}
        m[r.strategy] = num(r.total)
        fallbacksOf.set(r.breaker_name, m)
      }
      return Array.from(names).sort().map((name) => {
        const fr = fm.get(name)
        const l = lm.get(name)
        const s = sm.get(name)
        const calls = num(s?.calls)
        const failed = num(s?.failures) + num(s?.timeouts)
        return new Records.BreakerSummary({
          breakerName: name,
          state: (l?.to_state ?? "CLOSED") as Records.BreakerState,
          failuresTotal: num(fr?.failures),
          failuresLast24h: num(dm.get(name)?.total),
          lastFailureAt: fr?.last_at ? date(fr.last_at) : null,
          transitions: num(fr?.transitions),
          fallbacksServed: num(fr?.fallbacks),
          since: l === undefined ? null : date(l.created_at),
          reason: l === undefined ? null : l.reason,
          calls,
          failures: failed,
          failureRate: calls === 0 ? 0 : Math.min(1, failed / calls),
          rejections: num(s?.rejections),
          fallbacks: fallbacksOf.get(name) ?? {}
        }, true)
      })
    }).pipe(Effect.mapError(toLedgerError("the summary")))

    type ToolCallRow = {
      run_id: string | null
      node: string
      tool: string
      call_id: string | null
      outcome: string
      detail: string | null
      created_at: string
    }
    const toolCalls = (
      q?: Records.ToolCallQuery
    ): Effect.Effect<ReadonlyArray<Records.ToolCallRecord>, Records.LedgerError> => {
      const conditions = [
        ...(q?.tool === undefined ? [] : [sql`tool = ${q.tool}`]),
        ...(q?.run === undefined ? [] : [sql`run_id = ${q.run}`])
      ]
      return sql<ToolCallRow>`SELECT run_id, node, tool, call_id, outcome, detail, created_at FROM ${sql(t.toolCalls)}
        ${conditions.length === 0 ? sql`` : sql`WHERE ${sql.and(conditions)}`} ORDER BY id DESC LIMIT ${limitOf(q)}`
        .pipe(
          Effect.map((rows) =>
            rows.map((r) =>
              new Records.ToolCallRecord({
                runId: r.run_id,
                node: r.node,
                tool: r.tool,
                callId: r.call_id,
                outcome: r.outcome as Records.ToolCallOutcome,
                detail: r.detail,
                createdAt: date(r.created_at)
              }, true)
            )
          ),
          Effect.mapError(toLedgerError("tool calls"))
        )
    }

    return { failures, transitions, fallbacks, quarantines, callStats, usage, toolCalls, summary }
  })

/**
 * Deletes rows created before `cutoff` from every ledger table, keeping each
 * breaker's latest transition. Returns how many rows went.
 */
export const prune = (prefix: string, cutoff: Date): Effect.Effect<number, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    const before = iso(cutoff)
    const minute = Counters.minuteOf(cutoff.getTime())
    const keep = sql`id NOT IN (SELECT MAX(id) FROM ${sql(t.transitions)} GROUP BY breaker_name)`
    const targets = [
      [t.failures, sql`created_at < ${before}`],
      [t.transitions, sql`created_at < ${before} AND ${keep}`],
      [t.fallbacks, sql`created_at < ${before}`],
      [t.quarantines, sql`created_at < ${before}`],
      [t.usage, sql`created_at < ${before}`],
      [t.toolCalls, sql`created_at < ${before}`],
      [t.stats, sql`minute < ${minute}`],
      [t.statsFallbacks, sql`minute < ${minute}`]
    ] as const
    const counted = [[t.failures, "failures"], [t.transitions, "transitions"], [t.fallbacks, "fallbacks"]] as const
    return yield* sql.withTransaction(Effect.gen(function*() {
      // the running totals lose what goes (counted per breaker over the time index, before deleting)
      for (const [table, column] of counted) {
        const condition = targets.find(([name]) => name === table)![1]
        const gone = yield* sql<{ breaker_name: string; n: unknown }>`
          SELECT breaker_name, COUNT(*) AS n FROM ${sql(table)} WHERE ${condition} GROUP BY breaker_name`
        for (const g of gone) {
          yield* sql`UPDATE ${sql(t.totals)} SET ${sql(column)} = ${sql(column)} - ${num(g.n)}
            WHERE breaker_name = ${g.breaker_name}`
        }
      }
      yield* sql`UPDATE ${sql(t.totals)} SET last_failure_at = NULL WHERE failures <= 0`
      let total = 0
      for (const [table, condition] of targets) {
        const [row] = yield* sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM ${sql(table)} WHERE ${condition}`
        const n = num(row?.n)
        if (n > 0) yield* sql`DELETE FROM ${sql(table)} WHERE ${condition}`
        total += n
      }
      return total
    }))
  })

/** `prune` with the cutoff `olderThan` before the `Clock`'s now */
export const pruneOlderThan = (
  prefix: string,
  olderThan: Duration.DurationInput
): Effect.Effect<number, Records.LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const age = Age.parseAge(olderThan)
    if (Option.isNone(age)) {
      return yield* new Records.LedgerError({
        message: `not a duration: ${JSON.stringify(olderThan)} (try 30d, 12h, 90m)`
      })
    }
    yield* Effect.try({ try: () => tables(prefix), catch: (e) => e as Records.LedgerError })
    const now = yield* Clock.currentTimeMillis
    return yield* prune(prefix, new Date(now - Duration.toMillis(age.value))).pipe(
      Effect.mapError((e) => new Records.LedgerError({ message: `could not prune the ledger: ${e.message}`, cause: e }))
    )
  })

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const e = Cause.squash(cause)
  let message: string
  try {
    if (e instanceof Error) {
      const inner = (e as { cause?: unknown }).cause
      message = inner instanceof Error && inner.message !== "" && inner.message !== e.message
        ? `${e.message}: ${inner.message}`
        : e.message
    } else {
      message = String(e)
    }
  } catch {
    message = "unknown error"
  }
  return message.replace(/\s+/g, " ").trim()
}

/** how a ledger reaches its database: every attempt opens it afresh in its own scope */
export interface Connector {
  /** what the log names (a file path, "Postgres at host:port") */
  readonly target: string
  /** the API whose options these are, for error messages ("SqliteLedger.layer") */
  readonly owner?: string | undefined
  readonly connect: Effect.Effect<SqlClient.SqlClient, unknown, Scope.Scope>
  /**
   * What the target names now (a file's device and inode), `undefined` when
   * it names nothing: a ledger whose file is deleted or replaced under it
   * notices that this changed since it opened, and reopens.
   */
  readonly identity?: (() => string | undefined) | undefined
}

interface Connection {
  readonly sql: SqlClient.SqlClient
  readonly reader: Effect.Effect.Success<ReturnType<typeof makeReader>>
  readonly dialect: "pg" | "sqlite" | "other"
  /** `connector.identity()` when it was opened */
  readonly identity: string | undefined
  /** closes it (its own scope, apart from the layer's) */
  readonly close: Effect.Effect<void>
}

interface Batch {
  readonly items: Array<Item>
  readonly counters: Array<Counters.CallCounter>
  readonly callSeq: number
  settled: boolean
}

/** a FIFO with O(1) push and shift */
class Deque<A> {
  private items: Array<A | undefined> = []
  private head = 0
  get length(): number {
    return this.items.length - this.head
  }
  push(a: A): void {
    this.items.push(a)
  }
  shift(): A | undefined {
    if (this.head >= this.items.length) return undefined
    const a = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return a
  }
  take(n: number): Array<A> {
    const count = Math.min(n, this.length)
    const out = this.items.slice(this.head, this.head + count) as Array<A>
    if (this.head + count >= this.items.length) {
      this.items = []
      this.head = 0
    } else {
      for (let i = this.head; i < this.head + count; i++) this.items[i] = undefined
      this.head += count
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head)
        this.head = 0
      }
    }
    return out
  }
}

/**
 * The ledger's duration options, decoded strictly: negative, NaN, infinite and
 * unparsable values are a `ParseError` naming the option, and so is a
 * `pruneInterval` of 0 (an interval of 0 would prune in a busy loop).
 */
const decodeDurations = (owner: string, options: Options.SqlOptions) =>
  Either.flatMap(
    duration.decodeOptions(owner, {
      flushTimeout: options.flushTimeout ?? "10 seconds",
      pruneInterval: options.pruneInterval ?? "1 hour"
    }),
    (d) =>
      Duration.toMillis(d.pruneInterval) > 0
        ? Either.right(d)
        : Either.left(
          ParseResult.parseError(
            new ParseResult.Type(
              Schema.Unknown.ast,
              options.pruneInterval,
              `${owner}: pruneInterval must be a positive interval, got ${String(options.pruneInterval)}`
            )
          )
        )
  )

/** the default reopen schedule: exponential from 1 second, capped at 1 minute */
export const defaultReopenSchedule: Schedule.Schedule<unknown> = Schedule.exponential("1 second").pipe(
  Schedule.union(Schedule.spaced("1 minute"))
)

/** the default write retry: exponential from 20 ms, at most 2 s apart, for up to 30 seconds */
export const defaultWriteRetry: Schedule.Schedule<unknown> = Schedule.exponential("20 millis").pipe(
  Schedule.union(Schedule.spaced("2 seconds")),
  Schedule.upTo("30 seconds")
)

/** the read-write ledger: connection (degraded mode), migrations, write queue, background writer, retention */
export const make = (
  options: Options.SqlOptions,
  connector: Connector
): Effect.Effect<Service.Ledger, Records.LedgerError | ParseResult.ParseError, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX
    const t = yield* Effect.try({ try: () => tables(prefix), catch: (e) => e as Records.LedgerError })
    const { flushTimeout, pruneInterval } = yield* decodeDurations(connector.owner ?? "Ledger.layerSql", options)
    const retention = options.retention === undefined ? undefined : Age.parseAge(options.retention)
    if (retention !== undefined && Option.isNone(retention)) {
      return yield* new Records.LedgerError({
        message: `retention must be a duration such as "30 days", got ${JSON.stringify(options.retention)}`
      })
    }
    const reopenSchedule = options.reopenSchedule ?? defaultReopenSchedule
    const writeRetry = options.writeRetry ?? defaultWriteRetry
    for (const field of ["queueCapacity", "batchSize"] as const) {
      const value = options[field]
      if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
        return yield* new Records.LedgerError({
          message: `${field} must be a whole number of at least 1, got ${String(value)}`
        })
      }
    }
    const capacity = options.queueCapacity ?? 100_000
    const batchSize = options.batchSize ?? 1_000
    const layerScope = yield* Effect.scope

    // --- state: every record is recorded once and ends written or dropped, exactly once ---
    const buffer = new Deque<Item>()
    let counters = new Map<string, Counters.CallCounter>()
    let recorded = 0
    let written = 0
    let dropped = 0
    let lastError: string | null = null
    let callSeq = 0
    let callSettled = 0
    let inFlight: Batch | undefined
    let connection: Connection | undefined
    let wake: Deferred.Deferred<void> | undefined
    let waiters: Array<
      { readonly target: number; readonly callTarget: number; readonly done: Deferred.Deferred<boolean> }
    > = []

    const wakeWriter = () => {
      if (wake !== undefined) {
        const w = wake
        wake = undefined
        Deferred.unsafeDone(w, Exit.void)
      }
    }

    const settleWaiters = () => {
      if (waiters.length === 0) return
      const done = written + dropped
      const ready = waiters.filter((w) => w.target <= done && w.callTarget <= callSettled)
      if (ready.length === 0) return
      waiters = waiters.filter((w) => !(w.target <= done && w.callTarget <= callSettled))
      for (const w of ready) Deferred.unsafeDone(w.done, Exit.succeed(true))
    }

    let dropWarnings = 0
    const countDropped = (n: number, why: string): Effect.Effect<void> => {
      if (n <= 0) return Effect.void
      dropped += n
      dropWarnings++
      return Effect.zipRight(
        Metric.incrementBy(droppedRecords, n),
        dropWarnings === 1 || dropWarnings % 100 === 0
          ? Effect.logWarning(
            `agentarmour ledger (${connector.target}): ${n} records dropped (${dropped} so far): ${why}`
          )
          : Effect.void
      )
    }

    const settle = (batch: Batch, outcome: { readonly ok: true } | { readonly ok: false; readonly why: string }) =>
      Effect.suspend(() => {
        if (batch.settled) return Effect.void
        batch.settled = true
        if (inFlight === batch) inFlight = undefined
        if (batch.callSeq > callSettled) callSettled = batch.callSeq
        const effect = outcome.ok
          ? Effect.sync(() => {
            written += batch.items.length
          })
          : countDropped(batch.items.length, outcome.why)
        return Effect.zipRight(effect, Effect.sync(settleWaiters))
      })

    const offer = (item: Item): Effect.Effect<void> =>
      Effect.suspend(() => {
        recorded++
        buffer.push(item)
        wakeWriter()
        if (buffer.length > capacity) {
          buffer.shift()
          return Effect.zipRight(
            countDropped(1, `write queue full (${capacity}), the oldest record went`),
            Effect.sync(settleWaiters)
          )
        }
        return Effect.void
      })

    let dirty: Deferred.Deferred<void> | undefined
    const addCounter = (breakerName: string, at: Date, add: (c: Counters.CallCounter) => void) => {
      callSeq++
      if (dirty !== undefined) {
        const d = dirty
        dirty = undefined
        Deferred.unsafeDone(d, Exit.void)
      }
      Counters.countCall(counters, breakerName, at, add)
    }

    // --- writing ---
    const insertRows = (
      sql: SqlClient.SqlClient,
      dialect: Connection["dialect"],
      table: string,
      rows: Array<Row>,
      total?: "failures" | "transitions" | "fallbacks"
    ) => {
      if (rows.length === 0) return Effect.void
      const columns = Object.keys(rows[0]!)
      if (dialect === "pg") {
        // one statement per table whatever the batch size: arrays bound as parameters, unnest into
        // rows; the per-breaker totals are upserted by the same statement (a data-modifying CTE)
        const arrays = columns.map((c) => rows.map((r) => r[c] ?? null))
        const casts = columns.map((c, i) => `$${i + 1}::${PG_TYPES[c] ?? "text"}[]`).join(", ")
        const insert = `INSERT INTO "${table}" (${columns.join(", ")}) SELECT * FROM unnest(${casts})`
        const tt = `"${t.totals}"`
        const statement = total === undefined ? insert : `WITH ins AS (${insert} RETURNING breaker_name, created_at)
          INSERT INTO ${tt} (breaker_name, failures, last_failure_at, transitions, fallbacks)
          SELECT breaker_name,
            ${total === "failures" ? "COUNT(*)" : "0"}, ${total === "failures" ? "MAX(created_at)" : "NULL"},
            ${total === "transitions" ? "COUNT(*)" : "0"}, ${total === "fallbacks" ? "COUNT(*)" : "0"}
          FROM ins GROUP BY breaker_name
          ON CONFLICT (breaker_name) DO UPDATE SET
            failures = ${tt}.failures + excluded.failures,
            last_failure_at = CASE
              WHEN excluded.last_failure_at IS NULL OR ${tt}.last_failure_at >= excluded.last_failure_at
              THEN ${tt}.last_failure_at ELSE excluded.last_failure_at END,
            transitions = ${tt}.transitions + excluded.transitions,
            fallbacks = ${tt}.fallbacks + excluded.fallbacks`
        return sql.unsafe(statement, arrays as never).pipe(Effect.asVoid)
      }
      // SQLite allows 32766 bound parameters per statement: 8 columns x 500 rows stays well below
      return Effect.forEach(
        Array.from({ length: Math.ceil(rows.length / 500) }, (_, i) => rows.slice(i * 500, i * 500 + 500)),
        (chunk) => sql`INSERT INTO ${sql(table)} ${sql.insert(chunk)}`,
        { discard: true }
      )
    }

    const upsertCounters = (sql: SqlClient.SqlClient, list: Array<Counters.CallCounter>) =>
      Effect.gen(function*() {
        if (list.length === 0) return
        const calls = list.filter((c) => c.calls + c.rejections > 0).map((c) => ({
          breaker_name: c.breakerName,
          minute: c.minute,
          calls: c.calls,
          failures: c.failures,
          rejections: c.rejections,
          timeouts: c.timeouts,
          slow_calls: c.slowCalls
        }))
        const s = sql(t.stats)
        for (let i = 0; i < calls.length; i += 500) {
          yield* sql`INSERT INTO ${s} ${sql.insert(calls.slice(i, i + 500))}
            ON CONFLICT (breaker_name, minute) DO UPDATE SET
              calls = ${s}.calls + excluded.calls,
              failures = ${s}.failures + excluded.failures,
              rejections = ${s}.rejections + excluded.rejections,
              timeouts = ${s}.timeouts + excluded.timeouts,
              slow_calls = ${s}.slow_calls + excluded.slow_calls`
        }
        const fallbacks = list.flatMap((c) =>
          Object.entries(c.fallbacks).map(([strategy, count]) => ({
            breaker_name: c.breakerName,
            minute: c.minute,
            strategy,
            count
          }))
        )
        const f = sql(t.statsFallbacks)
        for (let i = 0; i < fallbacks.length; i += 500) {
          yield* sql`INSERT INTO ${f} ${sql.insert(fallbacks.slice(i, i + 500))}
            ON CONFLICT (breaker_name, minute, strategy) DO UPDATE SET count = ${f}.count + excluded.count`
        }
      })

    /** adds a batch's failures, transitions and fallbacks to the per-breaker totals */
    const upsertTotals = (sql: SqlClient.SqlClient, rows: Record<Kind, Array<Row>>) => {
      const acc = new Map<
        string,
        {
          breaker_name: string
          failures: number
          last_failure_at: string | null
          transitions: number
          fallbacks: number
        }
      >()
      const get = (name: string) => {
        let a = acc.get(name)
        if (a === undefined) {
          acc.set(name, a = { breaker_name: name, failures: 0, last_failure_at: null, transitions: 0, fallbacks: 0 })
        }
        return a
      }
      for (const r of rows.failure) {
        const a = get(r["breaker_name"] as string)
        a.failures++
        const at = r["created_at"] as string
        if (a.last_failure_at === null || at > a.last_failure_at) a.last_failure_at = at
      }
      for (const r of rows.transition) get(r["breaker_name"] as string).transitions++
      for (const r of rows.fallback) get(r["breaker_name"] as string).fallbacks++
      if (acc.size === 0) return Effect.void
      const s = sql(t.totals)
      const list = Array.from(acc.values())
      return Effect.forEach(
        Array.from({ length: Math.ceil(list.length / 500) }, (_, i) => list.slice(i * 500, i * 500 + 500)),
        (chunk) =>
          sql`INSERT INTO ${s} ${sql.insert(chunk)}
            ON CONFLICT (breaker_name) DO UPDATE SET
              failures = ${s}.failures + excluded.failures,
              last_failure_at = CASE
                WHEN excluded.last_failure_at IS NULL OR ${s}.last_failure_at >= excluded.last_failure_at
                THEN ${s}.last_failure_at ELSE excluded.last_failure_at END,
              transitions = ${s}.transitions + excluded.transitions,
              fallbacks = ${s}.fallbacks + excluded.fallbacks`,
        { discard: true }
      )
    }

    const writeBatch = (conn: Connection, batch: Batch) =>
      Effect.suspend(() => {
        const rows: Record<Kind, Array<Row>> = {
          failure: [],
          transition: [],
          fallback: [],
          quarantine: [],
          usage: [],
          toolCall: []
        }
        for (const item of batch.items) {
          const [kind, row] = toRow(item)
          rows[kind].push(row)
        }
        const { dialect, sql } = conn
        const totalOf = { failure: "failures", transition: "transitions", fallback: "fallbacks" } as const
        const write = Effect.gen(function*() {
          for (const kind of ["failure", "transition", "fallback", "quarantine", "usage", "toolCall"] as const) {
            const total = dialect === "pg" && kind in totalOf ? totalOf[kind as keyof typeof totalOf] : undefined
            yield* insertRows(sql, dialect, t[TABLE_OF[kind]], rows[kind], total)
          }
          yield* upsertCounters(sql, batch.counters)
          if (dialect !== "pg") yield* upsertTotals(sql, rows)
        })
        // in Postgres a batch of one kind is one statement, atomic by itself: no BEGIN/COMMIT round trips
        const kinds = Object.values(rows).filter((r) => r.length > 0).length
        return dialect === "pg" && kinds === 1 && batch.counters.length === 0 ? write : sql.withTransaction(write)
      })

    let failing = false
    /** writes one batch with retries; defects (a failed ROLLBACK, a driver crash) are retried and counted like errors */
    const attemptWrite = (conn: Connection, batch: Batch) =>
      writeBatch(conn, batch).pipe(
        Effect.catchAllDefect((defect) => Effect.fail(defect)),
        Effect.tapError((error) =>
          Effect.gen(function*() {
            const why = describeCause(Cause.fail(error))
            lastError = why
            yield* Metric.increment(writeErrors)
            // a transaction left open by a failed COMMIT/ROLLBACK would block every later batch
            if (conn.dialect === "sqlite") {
              yield* Effect.ignore(Effect.catchAllDefect(conn.sql`ROLLBACK`, () => Effect.void))
            }
            if (!failing) {
              failing = true
              yield* Effect.logWarning(
                `agentarmour ledger (${connector.target}): writing ${batch.items.length} records failed, retrying: ${why}`
              )
            }
          })
        ),
        Effect.retry(writeRetry),
        Effect.matchEffect({
          onFailure: (error) =>
            settle(batch, { ok: false, why: `write failed after retries: ${describeCause(Cause.fail(error))}` }),
          onSuccess: () =>
            isLost(conn) ? settle(batch, { ok: false, why: lostWhy }) : Effect.zipRight(
              failing
                ? Effect.zipRight(
                  Effect.logInfo(`agentarmour ledger (${connector.target}): writes recovered`),
                  Effect.sync(() => {
                    failing = false
                    lastError = null
                  })
                )
                : Effect.void,
              settle(batch, { ok: true })
            )
        })
      )

    // --- the file under the ledger: deleted or replaced, it no longer is what the path names ---
    const lostWhy = `${connector.target} was deleted or replaced under the ledger; reopening`
    const isLost = (conn: Connection): boolean =>
      connector.identity !== undefined && connector.identity() !== conn.identity

    /** drops a lost connection and opens the path again (in the background while it fails) */
    const reopenLost = (conn: Connection): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (connection !== conn) return Effect.void
        connection = undefined
        lastError = lostWhy
        return Effect.zipRight(
          Effect.zipRight(conn.close, Effect.logWarning(`agentarmour ledger: ${lostWhy}`)),
          Effect.matchEffect(openOnce, {
            onFailure: (why) => Effect.zipRight(Effect.sync(() => (lastError = why)), reopenInBackground),
            onSuccess: (fresh) =>
              Effect.sync(() => {
                connection = fresh
                lastError = null
              })
          })
        )
      })

    const takeBatch = (): Batch | undefined => {
      const items = buffer.take(batchSize)
      const list = counters.size === 0 ? [] : Array.from(counters.values())
      if (list.length > 0) counters = new Map()
      if (items.length === 0 && list.length === 0) return undefined
      return { items, counters: list, callSeq, settled: false }
    }

    // a busy producer fills the queue between two yields of its fiber: let it run a few more
    // times before taking a partial batch, so a burst is written in few transactions
    let coalesced = 0
    const writerStep: Effect.Effect<void> = Effect.suspend(() => {
      if (buffer.length > 0 && buffer.length < batchSize && coalesced < 8) {
        const before = buffer.length
        coalesced++
        return Effect.flatMap(Effect.yieldNow(), () =>
          Effect.sync(() => {
            // nothing arrived meanwhile: no burst, write what is there now
            if (buffer.length === before) coalesced = 8
          }))
      }
      coalesced = 0
      const batch = takeBatch()
      if (batch === undefined) {
        if (callSettled < callSeq) callSettled = callSeq
        settleWaiters()
        const d = Deferred.unsafeMake<void>(FiberId.none)
        wake = d
        return Deferred.await(d)
      }
      inFlight = batch
      const conn = connection
      if (conn === undefined) {
        return settle(batch, { ok: false, why: `the database is not open (${lastError ?? "opening"})` })
      }
      if (isLost(conn)) {
        // reopen at the path before writing; what was written to the lost file after the
        // last check was settled as dropped by that write's own check
        return Effect.zipRight(
          reopenLost(conn),
          Effect.suspend(() =>
            connection === undefined
              ? settle(batch, { ok: false, why: `the database is not open (${lastError ?? "opening"})` })
              : attemptWrite(connection, batch)
          )
        )
      }
      return Effect.zipRight(
        attemptWrite(conn, batch),
        Effect.suspend(() => (isLost(conn) ? reopenLost(conn) : Effect.void))
      )
    })

    let writerFiber = yield* Effect.forkIn(Effect.forever(writerStep), layerScope)

    /** the flush deadline passed: everything still pending is counted dropped, the writer starts afresh */
    const abandon = Effect.gen(function*() {
      const old = writerFiber
      const batch = inFlight
      const queued = buffer.take(buffer.length)
      const list = Array.from(counters.values())
      counters = new Map()
      if (batch !== undefined) {
        yield* settle(batch, { ok: false, why: `not written within flushTimeout ${Duration.format(flushTimeout)}` })
      }
      yield* settle({ items: queued, counters: list, callSeq, settled: false }, {
        ok: false,
        why: `not written within flushTimeout ${Duration.format(flushTimeout)}`
      })
      // the old writer may be stuck in the database: interrupt it without waiting for it
      yield* Fiber.interruptFork(old)
      writerFiber = yield* Effect.forkIn(Effect.forever(writerStep), layerScope)
      return (batch?.items.length ?? 0) + queued.length
    })

    /** waits until everything offered so far is written or dropped, for at most `flushTimeout` */
    const flushFor = (deadline: Duration.Duration, abandonAtDeadline = true): Effect.Effect<number> =>
      Effect.suspend(() => {
        const target = recorded
        const callTarget = callSeq
        if (written + dropped >= target && callSettled >= callTarget) return Effect.succeed(0)
        const done = Deferred.unsafeMake<boolean>(FiberId.none)
        waiters.push({ target, callTarget, done })
        wakeWriter()
        return Effect.gen(function*() {
          // a timer fiber completes the same Deferred: no interruption is needed, so this
          // returns in time even inside an uninterruptible finalizer
          const timer = yield* Effect.forkDaemon(
            Effect.interruptible(Effect.zipRight(Effect.sleep(deadline), Deferred.succeed(done, false)))
          )
          const ok = yield* Deferred.await(done)
          yield* Fiber.interruptFork(timer)
          if (ok) return 0
          waiters = waiters.filter((w) => w.done !== done)
          return abandonAtDeadline ? yield* abandon : 0
        })
      })

    const flush = Effect.asVoid(flushFor(flushTimeout))

    // --- opening (degraded mode until it works) ---
    const openOnce: Effect.Effect<Connection, string> = Effect.gen(function*() {
      const child = yield* Scope.fork(layerScope, ExecutionStrategy.sequential)
      const exit = yield* Effect.exit(
        Effect.gen(function*() {
          const sql = yield* connector.connect
          const dialect = sql.onDialectOrElse({
            pg: () => "pg" as const,
            sqlite: () => "sqlite" as const,
            orElse: () => "other" as const
          })
          if (dialect === "sqlite") {
            // better-sqlite3 is synchronous: a long busy timeout would block the whole event
            // loop, so wait at most 50 ms in SQLite and retry from Effect instead
            yield* Effect.ignore(sql`PRAGMA busy_timeout = 50`)
          }
          yield* migrate(prefix).pipe(
            Effect.provideService(SqlClient.SqlClient, sql),
            // another process migrating at the same moment (a lock in SQLite, a duplicate
            // catalog row or migration id in Postgres): wait for it a little
            Effect.retry({
              schedule: Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(6))),
              while: (e) => dialect !== "sqlite" || /busy|locked/i.test(describeCause(Cause.fail(e)))
            })
          )
          const reader = yield* Effect.provideService(makeReader(prefix), SqlClient.SqlClient, sql)
          const identity = connector.identity?.()
          return { sql, reader, dialect, identity, close: Scope.close(child, Exit.void) } satisfies Connection
        }).pipe(Scope.extend(child))
      )
      if (Exit.isSuccess(exit)) return exit.value
      yield* Scope.close(child, Exit.void)
      return yield* Effect.fail(Cause.isInterruptedOnly(exit.cause) ? "interrupted" : describeCause(exit.cause))
    })

    /** retries opening on `reopenSchedule`, in a fiber of the layer's scope */
    const reopenInBackground: Effect.Effect<void> = Effect.asVoid(Effect.forkIn(
      openOnce.pipe(
        Effect.tapError((why) => Effect.sync(() => (lastError = why))),
        Effect.retry(reopenSchedule),
        Effect.flatMap((conn) =>
          Effect.zipRight(
            Effect.sync(() => {
              connection = conn
              lastError = null
            }),
            Effect.logInfo(`agentarmour ledger: ${connector.target} is open again; writing resumes`)
          )
        ),
        Effect.ignore
      ),
      layerScope
    ))

    const first = yield* Effect.either(openOnce)
    if (first._tag === "Right") {
      connection = first.right
    } else {
      lastError = first.left
      yield* Effect.logWarning(
        `agentarmour ledger: cannot open ${connector.target}: ${first.left}. Running degraded: records are counted ` +
          `as dropped (Ledger.stats) and opening is retried in the background.`
      )
      yield* reopenInBackground
    }

    // the per-minute call counters reach the database about a second after they change
    // (the ticker sleeps only while there are counters to write, so an idle ledger arms no timer)
    yield* Effect.forkIn(
      Effect.forever(Effect.suspend(() => {
        if (counters.size === 0) {
          const d = Deferred.unsafeMake<void>(FiberId.none)
          dirty = d
          return Deferred.await(d)
        }
        return Effect.zipRight(Effect.sleep("1 second"), Effect.sync(wakeWriter))
      })),
      layerScope
    )

    if (retention !== undefined && Option.isSome(retention)) {
      const age = retention.value
      const pruneOnce = Effect.suspend(() => {
        const conn = connection
        if (conn === undefined) return Effect.void
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          prune(prefix, new Date(now - Duration.toMillis(age))).pipe(
            Effect.provideService(SqlClient.SqlClient, conn.sql),
            Effect.flatMap((n) =>
              n > 0
                ? Effect.logDebug(`agentarmour ledger: retention removed ${n} rows older than ${Duration.format(age)}`)
                : Effect.void
            ),
            Effect.catchAllCause((cause) =>
              Effect.logWarning(`agentarmour ledger: retention pruning failed: ${describeCause(cause)}`)
            )
          ))
      })
      yield* Effect.forkIn(Effect.repeat(pruneOnce, Schedule.spaced(pruneInterval)), layerScope)
    }

    // closing the scope writes everything queued, for at most flushTimeout whatever the database does
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(flushFor(flushTimeout), (lost) =>
        lost > 0
          ? Effect.logError(
            `agentarmour ledger (${connector.target}): ${lost} records could not be written before shutdown ` +
              `(flushTimeout ${Duration.format(flushTimeout)}); ${dropped} dropped in total`
          )
          : dropped > 0
          ? Effect.logWarning(
            `agentarmour ledger (${connector.target}): closed; ${dropped} records were dropped in total`
          )
          : Effect.void)
    )

    const unavailable = Effect.suspend(() =>
      Effect.fail(
        new Records.LedgerError({ message: `the ledger ${connector.target} is not open: ${lastError ?? "opening"}` })
      )
    )
    /** reads flush first (briefly) so a process sees its own records */
    const read = <A>(f: (reader: Connection["reader"]) => Effect.Effect<A, Records.LedgerError>) =>
      Effect.zipRight(
        // a read never gives records up: past the wait it reads what is there
        flushFor(Duration.min(flushTimeout, Duration.seconds(2)), false),
        Effect.suspend(() => (connection === undefined ? unavailable : f(connection.reader)))
      )

    return Service.make({
      recordFailure: (record) =>
        offer({ _tag: "failure", record }),
      recordFailureCause: (input) =>
        offer({ _tag: "failureCause", input }),
      recordTransition: (record) => offer({ _tag: "transition", record }),
      recordFallback: (record) =>
        Effect.suspend(() => {
          addCounter(record.breakerName, record.createdAt, Counters.addFallback(record.strategy))
          return offer({ _tag: "fallback", record })
        }),
      recordQuarantine: (record) => offer({ _tag: "quarantine", record }),
      ...recordCallMembers((record) => addCounter(record.breakerName, record.createdAt, Counters.addCall(record))),
      recordUsage: (record) => offer({ _tag: "usage", record }),
      recordToolCall: (record) => offer({ _tag: "toolCall", record }),
      failures: (q) => read((r) => r.failures(q)),
      transitions: (q) => read((r) => r.transitions(q)),
      fallbacks: (q) => read((r) => r.fallbacks(q)),
      quarantines: (q) => read((r) => r.quarantines(q)),
      callStats: (q) => read((r) => r.callStats(q)),
      usage: (q) => read((r) => r.usage(q)),
      toolCalls: (q) => read((r) => r.toolCalls(q)),
      summary: read((r) => r.summary),
      stats: Effect.sync(() => ({
        recorded,
        written,
        dropped,
        pending: recorded - written - dropped,
        lastError
      })),
      flush
    })
  })

/** `Ledger.layerSql`: the ledger on the `SqlClient` of the context */
export const layerSqlEffect = (
  options: Options.SqlOptions
): Effect.Effect<Service.Ledger, Records.LedgerError | ParseResult.ParseError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => make(options, { target: "the SQL database", owner: "Ledger.layerSql", connect: Effect.succeed(sql) })
  )
