/**
 * The audit ledger: every failure, transition and fallback a breaker sees.
 *
 * `Ledger.Ledger` is the service; `layerMemory` and `layerNoop` live here,
 * `layerSql` runs on any `SqlClient` (its code is loaded lazily so that
 * importing `agentarmour` never loads `@effect/sql`), and the drivers are in
 * `agentarmour/sqlite` and `agentarmour/pg`.
 *
 * @since 0.1.0
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"

import * as counters from "./internal/ledger/callCounters.js"
import { minuteOf } from "./internal/ledger/callCounters.js"
import type { CallCounter } from "./internal/ledger/callCounters.js"
import type { SqlOptions } from "./internal/ledger/options.js"
import { BreakerSummary, DEFAULT_LIMIT, FailureRecord, UsageSummary } from "./internal/ledger/records.js"
import type {
  BreakerState,
  FailureInput,
  FallbackRecord,
  LedgerError,
  QuarantineRecord,
  Query,
  ToolCallQuery,
  ToolCallRecord,
  TransitionRecord,
  UsageQuery,
  UsageRecord
} from "./internal/ledger/records.js"
import { failureFromInput } from "./internal/ledger/render.js"
import { Ledger, make } from "./internal/ledger/service.js"
import { recordCallMembers } from "./internal/ledgerSync.js"

export {
  /**
   * Parses a retention or prune age: `30d`, `12h`, `90m`, `45s`, or any
   * `Duration` string such as `"30 days"`. `None` when it is not a positive
   * finite duration.
   *
   * @since 0.2.0
   * @category constructors
   */
  parseAge
} from "./internal/ledger/age.js"
export {
  /**
   * Per-breaker, per-minute call counters kept in memory until written.
   *
   * @since 0.2.0
   * @category models
   */
  type CallCounter,
  /**
   * Start of the minute of `millis`, as an ISO string
   *
   * @since 0.2.0
   */
  minuteOf
} from "./internal/ledger/callCounters.js"

/** @internal how a call's outcome adds to its minute */
export const addCall = counters.addCall

/** @internal how a fallback adds to its minute */
export const addFallback = counters.addFallback

/** @internal one row of call statistics */
export const callStatsOf = counters.callStatsOf

/** @internal adds one call or fallback to the counters of its breaker and minute */
export const countCall = counters.countCall
export {
  /**
   * Records an SQL ledger could not write.
   *
   * @since 0.1.0
   * @category metrics
   */
  droppedRecords,
  /**
   * Batch writes of an SQL ledger that failed (each is retried).
   *
   * @since 0.1.0
   * @category metrics
   */
  writeErrors
} from "./internal/ledger/metrics.js"
export {
  /**
   * Options of the SQL ledger.
   *
   * @since 0.1.0
   * @category models
   */
  type SqlOptions
} from "./internal/ledger/options.js"
export {
  /**
   * A breaker's state, as stored and shown everywhere.
   *
   * @since 0.1.0
   * @category models
   */
  BreakerState,
  /**
   * One of the ledger's per-breaker summaries.
   *
   * @since 0.1.0
   * @category models
   */
  BreakerSummary,
  /**
   * The outcome of one call through a breaker, for the per-minute call statistics.
   *
   * @since 0.2.0
   * @category models
   */
  type CallRecord,
  /**
   * Per-breaker, per-minute call statistics (table `cb_stats`).
   *
   * @since 0.2.0
   * @category models
   */
  CallStats,
  /**
   * Default number of rows a query returns.
   *
   * @since 0.1.0
   * @category constants
   */
  DEFAULT_LIMIT,
  /**
   * What kind of failure a record describes.
   *
   * @since 0.1.0
   * @category models
   */
  FailureCategory,
  /**
   * A failure as the breaker sees it, before it is rendered.
   *
   * @since 0.2.0
   * @category models
   */
  type FailureInput,
  /**
   * One failure seen by a breaker (or by the guard, for `contamination`).
   *
   * @since 0.1.0
   * @category models
   */
  FailureRecord,
  /**
   * A fallback strategy answered instead of the failed node.
   *
   * @since 0.1.0
   * @category models
   */
  FallbackRecord,
  /**
   * Reading the ledger failed (the database is missing, locked or not a
   * ledger), or an option was bad.
   *
   * @since 0.1.0
   * @category errors
   */
  LedgerError,
  /**
   * What a ledger instance did with the records offered to it.
   *
   * @since 0.2.0
   * @category models
   */
  type LedgerStats,
  /**
   * The guard quarantined a state key in one run, or lifted the quarantine.
   *
   * @since 0.1.0
   * @category models
   */
  QuarantineRecord,
  /**
   * A query over the ledger: newest first, at most `limit` rows.
   *
   * @since 0.1.0
   * @category models
   */
  type Query,
  /**
   * @since 0.2.0
   * @category models
   */
  type StatsQuery,
  /**
   * What ToolGuard decided about one tool call (table `cb_tool_calls`).
   *
   * @since 0.3.0
   * @category models
   */
  ToolCallOutcome,
  /**
   * @since 0.3.0
   * @category models
   */
  type ToolCallQuery,
  /**
   * One tool call a model proposed and what ToolGuard did with it (table `cb_tool_calls`).
   *
   * @since 0.3.0
   * @category models
   */
  ToolCallRecord,
  /**
   * One state change of a breaker (or a guard quarantine / release).
   *
   * @since 0.1.0
   * @category models
   */
  TransitionRecord,
  /**
   * @since 0.2.0
   * @category models
   */
  type UsageQuery,
  /**
   * What one call spent (table `cb_usage`), charged by `Budget`.
   *
   * @since 0.2.0
   * @category models
   */
  UsageRecord,
  /**
   * Spend added up per node or per run.
   *
   * @since 0.2.0
   * @category models
   */
  UsageSummary
} from "./internal/ledger/records.js"
export {
  /**
   * Renders a `FailureInput` (the error's type, message and `Cause.pretty`).
   *
   * @since 0.2.0
   * @category constructors
   */
  failureFromInput
} from "./internal/ledger/render.js"
export {
  /**
   * The ledger service (`Ledger.Ledger`): its tag and its interface. Writes
   * never fail and never block the caller.
   *
   * @since 0.1.0
   * @category tags
   */
  Ledger,
  /**
   * The members a hand-written ledger must provide; `make` fills the rest.
   *
   * @since 0.2.0
   * @category models
   */
  type LedgerInput,
  /**
   * Builds a ledger from the six members of the 0.1 contract, filling the others.
   *
   * @since 0.2.0
   * @category constructors
   */
  make
} from "./internal/ledger/service.js"

const DAY_MILLIS = 24 * 60 * 60 * 1000

/**
 * Computes the per-breaker summary from records held in memory. Exported for
 * ledgers that keep records in memory; SQL ledgers compute it in SQL.
 *
 * @since 0.1.0
 * @category constructors
 */
export const summarize = (
  failures: Iterable<FailureRecord>,
  transitions: Iterable<TransitionRecord>,
  fallbacks: Iterable<FallbackRecord>,
  now: number
): ReadonlyArray<BreakerSummary> => {
  type Acc = {
    state: BreakerState
    stateAt: number
    reason: string | null
    failuresTotal: number
    failuresLast24h: number
    lastFailureAt: Date | null
    transitions: number
    fallbacksServed: number
  }
  const byName = new Map<string, Acc>()
  const get = (name: string): Acc => {
    let acc = byName.get(name)
    if (acc === undefined) {
      acc = {
        state: "CLOSED",
        stateAt: -Infinity,
        reason: null,
        failuresTotal: 0,
        failuresLast24h: 0,
        lastFailureAt: null,
        transitions: 0,
        fallbacksServed: 0
      }
      byName.set(name, acc)
    }
    return acc
  }
  for (const f of failures) {
    const acc = get(f.breakerName)
    acc.failuresTotal++
    const at = f.createdAt.getTime()
    if (now - at <= DAY_MILLIS) acc.failuresLast24h++
    if (acc.lastFailureAt === null || at > acc.lastFailureAt.getTime()) acc.lastFailureAt = f.createdAt
  }
  for (const t of transitions) {
    const acc = get(t.breakerName)
    acc.transitions++
    const at = t.createdAt.getTime()
    // ">=" so that of two transitions in the same millisecond the later-recorded wins
    if (at >= acc.stateAt) {
      acc.stateAt = at
      acc.state = t.toState
      acc.reason = t.reason
    }
  }
  for (const f of fallbacks) get(f.breakerName).fallbacksServed++
  return Array.from(byName.entries())
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([breakerName, acc]) =>
      new BreakerSummary({
        breakerName,
        state: acc.state,
        failuresTotal: acc.failuresTotal,
        failuresLast24h: acc.failuresLast24h,
        lastFailureAt: acc.lastFailureAt,
        transitions: acc.transitions,
        fallbacksServed: acc.fallbacksServed,
        since: acc.stateAt === -Infinity ? null : new Date(acc.stateAt),
        reason: acc.reason,
        calls: 0,
        failures: 0,
        failureRate: 0,
        rejections: 0,
        fallbacks: {}
      })
    )
}

/** keeps the newest `capacity` items; O(1) push, oldest dropped */
class Ring<A> {
  private readonly items: Array<A | undefined>
  private start = 0
  private size = 0
  constructor(readonly capacity: number) {
    this.items = new Array(capacity)
  }
  push(a: A): void {
    if (this.size < this.capacity) {
      this.items[(this.start + this.size) % this.capacity] = a
      this.size++
    } else {
      this.items[this.start] = a
      this.start = (this.start + 1) % this.capacity
    }
  }
  *newestFirst(): IterableIterator<A> {
    for (let i = this.size - 1; i >= 0; i--) yield this.items[(this.start + i) % this.capacity] as A
  }
}

const select = <A>(
  ring: { readonly newestFirst: () => Iterable<A> },
  query: Query | undefined,
  nameOf: (a: A) => string = (a) => (a as { readonly breakerName: string }).breakerName
): ReadonlyArray<A> => {
  const limit = query?.limit ?? DEFAULT_LIMIT
  const out: Array<A> = []
  if (limit <= 0) return out
  for (const a of ring.newestFirst()) {
    if (query?.breaker !== undefined && nameOf(a) !== query.breaker) continue
    out.push(a)
    if (out.length >= limit) break
  }
  return out
}

/** @internal sums usage records per node or run, biggest cost first */
export const summarizeUsage = (records: Iterable<UsageRecord>, query: UsageQuery | undefined): Array<UsageSummary> => {
  const since = query?.since?.getTime() ?? -Infinity
  const acc = new Map<string, { calls: number; tokensIn: number; tokensOut: number; costUsd: number }>()
  for (const r of records) {
    if (r.createdAt.getTime() < since) continue
    const key = query?.by === "run" ? r.runId ?? "-" : r.node
    let a = acc.get(key)
    if (a === undefined) acc.set(key, a = { calls: 0, tokensIn: 0, tokensOut: 0, costUsd: 0 })
    a.calls++
    a.tokensIn += r.tokensIn
    a.tokensOut += r.tokensOut
    a.costUsd += r.costUsd
  }
  const limit = query?.limit ?? 100
  return Array.from(acc.entries())
    .map(([key, a]) => new UsageSummary({ key, ...a }, true))
    .sort((x, y) => y.costUsd - x.costUsd || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))
    .slice(0, Math.max(0, limit))
}

/** @internal adds the last 24 hours of call statistics to summaries */
export const withCallStats = (
  summaries: ReadonlyArray<BreakerSummary>,
  stats: Iterable<Omit<CallCounter, "minute">>
): ReadonlyArray<BreakerSummary> => {
  const byName = new Map<string, BreakerSummary>(summaries.map((s) => [s.breakerName, s]))
  const totals = new Map<
    string,
    { calls: number; failures: number; rejections: number; fallbacks: Record<string, number> }
  >()
  for (const c of stats) {
    let t = totals.get(c.breakerName)
    if (t === undefined) totals.set(c.breakerName, t = { calls: 0, failures: 0, rejections: 0, fallbacks: {} })
    t.calls += c.calls
    t.failures += c.failures + c.timeouts
    t.rejections += c.rejections
    for (const [k, v] of Object.entries(c.fallbacks)) t.fallbacks[k] = (t.fallbacks[k] ?? 0) + v
  }
  for (const name of totals.keys()) {
    if (!byName.has(name)) {
      byName.set(
        name,
        new BreakerSummary({
          breakerName: name,
          state: "CLOSED",
          failuresTotal: 0,
          failuresLast24h: 0,
          lastFailureAt: null,
          transitions: 0,
          fallbacksServed: 0,
          since: null,
          reason: null,
          calls: 0,
          failures: 0,
          failureRate: 0,
          rejections: 0,
          fallbacks: {}
        }, true)
      )
    }
  }
  return Array.from(byName.values())
    .sort((a, b) => (a.breakerName < b.breakerName ? -1 : a.breakerName > b.breakerName ? 1 : 0))
    .map((s) => {
      const t = totals.get(s.breakerName)
      if (t === undefined) return s
      return new BreakerSummary({
        ...s,
        calls: t.calls,
        failures: t.failures,
        failureRate: t.calls === 0 ? 0 : Math.min(1, t.failures / t.calls),
        rejections: t.rejections,
        fallbacks: t.fallbacks
      }, true)
    })
}

/**
 * A ledger kept in memory, bounded: it keeps the newest `capacity` records
 * of each kind (default 10,000) and call statistics of the last 7 days.
 * Failures recorded with `recordFailureCause` are rendered when read.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (options?: { readonly capacity?: number }): Effect.Effect<Ledger> =>
  Effect.sync(() => {
    const capacity = Math.max(1, options?.capacity ?? 10_000)
    const failures = new Ring<FailureRecord | FailureInput>(capacity)
    const transitions = new Ring<TransitionRecord>(capacity)
    const fallbacks = new Ring<FallbackRecord>(capacity)
    const quarantines = new Ring<QuarantineRecord>(capacity)
    const usage = new Ring<UsageRecord>(capacity)
    const toolCalls = new Ring<ToolCallRecord>(capacity)
    const calls = new Map<string, CallCounter>()
    let recorded = 0
    const rendered = {
      *newestFirst(): IterableIterator<FailureRecord> {
        for (const f of failures.newestFirst()) yield f instanceof FailureRecord ? f : failureFromInput(f)
      }
    }
    const push = <A>(ring: Ring<A>) => (a: A) =>
      Effect.sync(() => {
        recorded++
        ring.push(a)
      })
    const pruneCalls = (now: number) => {
      const oldest = minuteOf(now - 7 * DAY_MILLIS)
      for (const [k, c] of calls) if (c.minute < oldest) calls.delete(k)
    }
    return make({
      recordFailure: push(failures),
      recordFailureCause: push(failures),
      recordTransition: push(transitions),
      recordFallback: (record) =>
        Effect.sync(() => {
          recorded++
          fallbacks.push(record)
          countCall(calls, record.breakerName, record.createdAt, addFallback(record.strategy))
        }),
      ...recordCallMembers((record) => {
        if (calls.size > 100_000) pruneCalls(record.createdAt.getTime())
        countCall(calls, record.breakerName, record.createdAt, addCall(record))
      }),
      recordUsage: push(usage),
      recordToolCall: push(toolCalls),
      toolCalls: (query) => Effect.sync(() => selectToolCalls(toolCalls.newestFirst(), query)),
      failures: (query) => Effect.sync(() => select(rendered, query)),
      transitions: (query) => Effect.sync(() => select(transitions, query)),
      fallbacks: (query) => Effect.sync(() => select(fallbacks, query)),
      recordQuarantine: push(quarantines),
      quarantines: (query) =>
        Effect.sync(() => select({ newestFirst: () => quarantines.newestFirst() }, query, (q) => q.node)),
      callStats: (query) =>
        Effect.sync(() => {
          const since = query?.since === undefined ? "" : minuteOf(query.since.getTime())
          return Array.from(calls.values())
            .filter((c) => (query?.breaker === undefined || c.breakerName === query.breaker) && c.minute >= since)
            .sort((
              a,
              b
            ) => (a.minute < b.minute ? -1 : a.minute > b.minute ? 1 : a.breakerName < b.breakerName ? -1 : 1))
            .map((c) => callStatsOf({ ...c, fallbacks: { ...c.fallbacks }, minute: new Date(c.minute) }))
        }),
      usage: (query) => Effect.sync(() => summarizeUsage(usage.newestFirst(), query)),
      summary: Effect.clockWith((clock) =>
        clock.currentTimeMillis.pipe(
          Effect.map((now) => {
            const since = minuteOf(now - DAY_MILLIS)
            return withCallStats(
              summarize(rendered.newestFirst(), transitions.newestFirst(), fallbacks.newestFirst(), now),
              Array.from(calls.values()).filter((c) => c.minute >= since)
            )
          })
        )
      ),
      stats: Effect.sync(() => ({ recorded, written: recorded, dropped: 0, pending: 0, lastError: null })),
      flush: Effect.void
    })
  })

/** @internal the newest tool calls matching a query */
export const selectToolCalls = (
  records: Iterable<ToolCallRecord>,
  query: ToolCallQuery | undefined
): Array<ToolCallRecord> => {
  const limit = query?.limit ?? DEFAULT_LIMIT
  const out: Array<ToolCallRecord> = []
  if (!(Number.isInteger(limit) && limit > 0)) return out
  for (const r of records) {
    if (query?.tool !== undefined && r.tool !== query.tool) continue
    if (query?.run !== undefined && r.runId !== query.run) continue
    out.push(r)
    if (out.length >= limit) break
  }
  return out
}

/**
 * An in-memory ledger (newest 10,000 records of each kind).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Ledger> = Layer.effect(Ledger, makeMemory())

/**
 * A ledger that records nothing and answers empty.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<Ledger> = Layer.succeed(
  Ledger,
  make({
    recordFailure: () => Effect.void,
    // records nothing, so renders nothing (make's default would render the cause for recordFailure)
    recordFailureCause: () => Effect.void,
    recordTransition: () => Effect.void,
    recordFallback: () => Effect.void,
    failures: () => Effect.succeed([]),
    transitions: () => Effect.succeed([]),
    fallbacks: () => Effect.succeed([]),
    recordQuarantine: () => Effect.void,
    quarantines: () => Effect.succeed([]),
    summary: Effect.succeed([]),
    flush: Effect.void
  })
)

/**
 * A ledger on any `SqlClient` (SQLite, Postgres...). Runs its migrations
 * when built; writes are queued and written in batches by a background
 * fiber, flushed when the layer's scope closes. It never fails because of
 * its database: when the migrations cannot run, the ledger runs degraded
 * (records counted dropped) and retries on `reopenSchedule`. Fails only on
 * bad options (`tablePrefix`, durations).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql = (
  options?: SqlOptions
): Layer.Layer<Ledger, LedgerError | ParseResult.ParseError, SqlClient> =>
  Layer.scoped(
    Ledger,
    Effect.flatMap(
      Effect.promise(() => import("./internal/sqlLedger.js")),
      (internal) => internal.layerSqlEffect(options ?? {})
    )
  )

/**
 * Deletes ledger rows older than `olderThan` from every ledger table on the
 * current `SqlClient`, keeping each breaker's latest transition (its current
 * state). Returns the number of rows removed.
 *
 * @since 0.2.0
 * @category constructors
 */
export const pruneSql = (options: {
  readonly olderThan: Duration.DurationInput
  readonly tablePrefix?: string | undefined
}): Effect.Effect<number, LedgerError, SqlClient> =>
  Effect.flatMap(
    Effect.promise(() => import("./internal/ledger/retention.js")),
    (retention) => retention.pruneOlderThan(options.tablePrefix, options.olderThan)
  )
