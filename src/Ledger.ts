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
import type * as Cause from "effect/Cause"
import * as CauseModule from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { recordCallMembers } from "./internal/ledgerSync.js"
import { DEFAULT_TABLE_PREFIX } from "./internal/tablePrefix.js"

/**
 * A breaker's state, as stored and shown everywhere.
 *
 * @since 0.1.0
 * @category models
 */
export const BreakerState = Schema.Literal("CLOSED", "OPEN", "HALF_OPEN", "ISOLATED", "DISABLED")

/**
 * @since 0.1.0
 * @category models
 */
export type BreakerState = typeof BreakerState.Type

/**
 * What kind of failure a record describes.
 *
 * - `exception`: the node failed with a typed error
 * - `timeout`: the node overran the breaker's `callTimeout` and was interrupted
 * - `defect`: the node died (a thrown exception, `Effect.die`)
 * - `slow`: the node succeeded, but slower than `slowCallDuration`
 * - `contamination`: the node succeeded with output the guard rejected
 * - `invalid_result`: the node succeeded with a value its breaker's `validateResult` rejected
 *
 * @since 0.1.0
 * @category models
 */
export const FailureCategory = Schema.Literal(
  "exception",
  "timeout",
  "defect",
  "slow",
  "contamination",
  "invalid_result"
)

/**
 * @since 0.1.0
 * @category models
 */
export type FailureCategory = typeof FailureCategory.Type

/**
 * One failure seen by a breaker (or by the guard, for `contamination`).
 *
 * @since 0.1.0
 * @category models
 */
export class FailureRecord extends Schema.Class<FailureRecord>("agentarmour/FailureRecord")({
  breakerName: Schema.String,
  category: FailureCategory,
  errorType: Schema.String,
  /** never empty: a timeout says which timeout it was */
  errorMessage: Schema.String,
  /** `Cause.pretty` of the failure */
  traceback: Schema.String,
  createdAt: Schema.DateFromSelf
}) {}

/**
 * One state change of a breaker (or a guard quarantine / release, recorded
 * with the guard's pseudo-states in `reason`).
 *
 * @since 0.1.0
 * @category models
 */
export class TransitionRecord extends Schema.Class<TransitionRecord>("agentarmour/TransitionRecord")({
  breakerName: Schema.String,
  fromState: BreakerState,
  toState: BreakerState,
  reason: Schema.String,
  createdAt: Schema.DateFromSelf
}) {}

/**
 * A fallback strategy answered instead of the failed node.
 *
 * @since 0.1.0
 * @category models
 */
export class FallbackRecord extends Schema.Class<FallbackRecord>("agentarmour/FallbackRecord")({
  breakerName: Schema.String,
  /** "cache" | "degrade" | "escalate" | "decompose" (or a user's own name) */
  strategy: Schema.String,
  createdAt: Schema.DateFromSelf
}) {}

/**
 * The guard quarantined a state key in one run, or lifted the quarantine
 * (`release`: by a later success or by hand; `expire`: the TTL ran out).
 *
 * @since 0.1.0
 * @category models
 */
export class QuarantineRecord extends Schema.Class<QuarantineRecord>("agentarmour/QuarantineRecord")({
  runId: Schema.String,
  key: Schema.String,
  /** the node whose failure or contaminated output caused it */
  node: Schema.String,
  action: Schema.Literal("quarantine", "release", "expire"),
  reason: Schema.String,
  createdAt: Schema.DateFromSelf
}) {}

/**
 * Per-breaker figures computed from the ledger.
 *
 * @since 0.1.0
 * @category models
 */
export class BreakerSummary extends Schema.Class<BreakerSummary>("agentarmour/BreakerSummary")({
  breakerName: Schema.String,
  /** the `toState` of the newest transition, `CLOSED` when there is none */
  state: BreakerState,
  failuresTotal: Schema.Number,
  failuresLast24h: Schema.Number,
  lastFailureAt: Schema.NullOr(Schema.DateFromSelf),
  transitions: Schema.Number,
  fallbacksServed: Schema.Number,
  /** when the breaker entered its current state (its newest transition), `null` when it never moved */
  since: Schema.NullOr(Schema.DateFromSelf),
  /** the reason of the newest transition, `null` when it never moved */
  reason: Schema.NullOr(Schema.String),
  /** calls that ran through the breaker in the last 24 hours (from the call statistics) */
  calls: Schema.Number,
  /** of those calls, the ones that failed (failures + timeouts) */
  failures: Schema.Number,
  /** `failures / calls`, 0 when there were no calls */
  failureRate: Schema.Number,
  /** calls refused without running in the last 24 hours (open, isolated, bulkhead full) */
  rejections: Schema.Number,
  /** fallbacks served in the last 24 hours, by strategy */
  fallbacks: Schema.Record({ key: Schema.String, value: Schema.Number })
}) {}

/**
 * A failure as the breaker sees it, before it is rendered: the writer turns
 * the `cause` into `errorType`, `errorMessage` and `traceback` (`Cause.pretty`)
 * off the caller's fiber.
 *
 * @since 0.2.0
 * @category models
 */
export interface FailureInput {
  readonly breakerName: string
  readonly category: FailureCategory
  readonly cause: Cause.Cause<unknown>
  readonly createdAt: Date
}

/**
 * The outcome of one call through a breaker, for the per-minute call statistics.
 * `rejected`: refused without running (OPEN, ISOLATED, bulkhead full).
 *
 * @since 0.2.0
 * @category models
 */
export interface CallRecord {
  readonly breakerName: string
  readonly outcome: "success" | "failure" | "timeout" | "rejected"
  /** the call ran longer than `slowCallDuration` */
  readonly slow: boolean
  readonly createdAt: Date
}

/**
 * Per-breaker, per-minute call statistics (table `cb_stats`).
 *
 * @since 0.2.0
 * @category models
 */
export class CallStats extends Schema.Class<CallStats>("agentarmour/CallStats")({
  breakerName: Schema.String,
  /** start of the minute, UTC */
  minute: Schema.DateFromSelf,
  calls: Schema.Number,
  failures: Schema.Number,
  rejections: Schema.Number,
  timeouts: Schema.Number,
  slowCalls: Schema.Number,
  /** fallbacks served in that minute, by strategy */
  fallbacks: Schema.Record({ key: Schema.String, value: Schema.Number })
}) {}

/**
 * What one call spent (table `cb_usage`), charged by `Budget`.
 *
 * @since 0.2.0
 * @category models
 */
export class UsageRecord extends Schema.Class<UsageRecord>("agentarmour/UsageRecord")({
  /** the node (or budget) that spent it */
  node: Schema.String,
  budget: Schema.String,
  /** the run (`CascadeGuard.withRun`, LangGraph `thread_id`), `null` outside a run */
  runId: Schema.NullOr(Schema.String),
  model: Schema.NullOr(Schema.String),
  tokensIn: Schema.Number,
  tokensOut: Schema.Number,
  costUsd: Schema.Number,
  createdAt: Schema.DateFromSelf
}) {}

/**
 * What ToolGuard decided about one tool call (table `cb_tool_calls`).
 *
 * @since 0.3.0
 * @category models
 */
export const ToolCallOutcome = Schema.Literal(
  "ok",
  "repaired",
  "unknown_tool",
  "invalid_args",
  "malformed",
  "repeated",
  "limit",
  "denied",
  "rejected",
  "approved",
  "invalid_result",
  "failed",
  "open"
)

/**
 * @since 0.3.0
 * @category models
 */
export type ToolCallOutcome = typeof ToolCallOutcome.Type

/**
 * One tool call a model proposed and what ToolGuard did with it (table `cb_tool_calls`).
 *
 * @since 0.3.0
 * @category models
 */
export class ToolCallRecord extends Schema.Class<ToolCallRecord>("agentarmour/ToolCallRecord")({
  /** the run (`CascadeGuard.withRun`, LangGraph `thread_id`), `null` outside a run */
  runId: Schema.NullOr(Schema.String),
  /** the guard (or graph node) that checked the call */
  node: Schema.String,
  tool: Schema.String,
  /** the model's `tool_call_id`, when it gave one */
  callId: Schema.NullOr(Schema.String),
  outcome: ToolCallOutcome,
  /** why: the refusal's message, the error of a failed call; `null` for a plain `ok` */
  detail: Schema.NullOr(Schema.String),
  createdAt: Schema.DateFromSelf
}) {}

/**
 * @since 0.3.0
 * @category models
 */
export interface ToolCallQuery {
  readonly tool?: string | undefined
  readonly run?: string | undefined
  readonly limit?: number | undefined
}

/**
 * Spend added up per node or per run.
 *
 * @since 0.2.0
 * @category models
 */
export class UsageSummary extends Schema.Class<UsageSummary>("agentarmour/UsageSummary")({
  /** the node or run id, by `UsageQuery.by` */
  key: Schema.String,
  calls: Schema.Number,
  tokensIn: Schema.Number,
  tokensOut: Schema.Number,
  costUsd: Schema.Number
}) {}

/**
 * @since 0.2.0
 * @category models
 */
export interface UsageQuery {
  readonly by?: "node" | "run" | undefined
  /** only usage at or after this time */
  readonly since?: Date | undefined
  readonly limit?: number | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface StatsQuery {
  readonly breaker?: string | undefined
  /** only minutes at or after this time */
  readonly since?: Date | undefined
}

/**
 * What a ledger instance did with the records offered to it. At every moment
 * `recorded = written + dropped + pending`; after `flush`, `pending = 0`.
 *
 * @since 0.2.0
 * @category models
 */
export interface LedgerStats {
  readonly recorded: number
  /** rows committed to the database */
  readonly written: number
  /** records lost: queue overflow, a batch abandoned after retries, the flush deadline */
  readonly dropped: number
  /** records the writer may still write */
  readonly pending: number
  /** the last write or open error, `null` when healthy */
  readonly lastError: string | null
}

/**
 * A query over the ledger: newest first, at most `limit` rows.
 *
 * @since 0.1.0
 * @category models
 */
export interface Query {
  readonly breaker?: string | undefined
  readonly limit?: number | undefined
}

/**
 * Reading the ledger failed (the database is missing, locked or not a ledger).
 *
 * @since 0.1.0
 * @category errors
 */
export class LedgerError extends Schema.TaggedError<LedgerError>()("LedgerError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * The ledger service. Writes never fail and never block the caller: a
 * broken database is logged, counted and retried by the implementation.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ledger {
  readonly recordFailure: (record: FailureRecord) => Effect.Effect<void>
  /** like `recordFailure`, but the rendering of the cause happens in the writer, off the caller's fiber */
  readonly recordFailureCause: (input: FailureInput) => Effect.Effect<void>
  readonly recordTransition: (record: TransitionRecord) => Effect.Effect<void>
  readonly recordFallback: (record: FallbackRecord) => Effect.Effect<void>
  /** the guard's quarantines and releases */
  readonly recordQuarantine: (record: QuarantineRecord) => Effect.Effect<void>
  /** one call's outcome, added to the per-minute statistics (cheap: a counter in memory until the writer runs) */
  readonly recordCall: (record: CallRecord) => Effect.Effect<void>
  readonly recordUsage: (record: UsageRecord) => Effect.Effect<void>
  /** records a ToolGuard decision; never fails (0.3) */
  readonly recordToolCall: (record: ToolCallRecord) => Effect.Effect<void>
  readonly failures: (query?: Query) => Effect.Effect<ReadonlyArray<FailureRecord>, LedgerError>
  readonly transitions: (query?: Query) => Effect.Effect<ReadonlyArray<TransitionRecord>, LedgerError>
  readonly fallbacks: (query?: Query) => Effect.Effect<ReadonlyArray<FallbackRecord>, LedgerError>
  /** `breaker` filters by node name */
  readonly quarantines: (query?: Query) => Effect.Effect<ReadonlyArray<QuarantineRecord>, LedgerError>
  /** per-minute call statistics, oldest first */
  readonly callStats: (query?: StatsQuery) => Effect.Effect<ReadonlyArray<CallStats>, LedgerError>
  /** spend per node or per run, biggest cost first */
  readonly usage: (query?: UsageQuery) => Effect.Effect<ReadonlyArray<UsageSummary>, LedgerError>
  /** ToolGuard decisions, newest first, by tool and/or run (0.3) */
  readonly toolCalls: (query?: ToolCallQuery) => Effect.Effect<ReadonlyArray<ToolCallRecord>, LedgerError>
  readonly summary: Effect.Effect<ReadonlyArray<BreakerSummary>, LedgerError>
  /** what this instance recorded, wrote, dropped and still holds */
  readonly stats: Effect.Effect<LedgerStats>
  /** waits until every record offered so far is written or counted dropped */
  readonly flush: Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const Ledger: Context.Tag<Ledger, Ledger> = Context.GenericTag<Ledger>("agentarmour/Ledger")

/**
 * The members a hand-written ledger must provide; `make` fills the rest.
 *
 * @since 0.2.0
 * @category models
 */
export type LedgerInput =
  & Pick<Ledger, "recordFailure" | "recordTransition" | "failures" | "transitions" | "summary" | "flush">
  & Partial<Ledger>

const emptyStats: LedgerStats = { recorded: 0, written: 0, dropped: 0, pending: 0, lastError: null }

/**
 * Builds a ledger from the six members of the 0.1 contract, filling the others:
 * `recordFailureCause` renders the cause and calls `recordFailure`, the other
 * writers do nothing, the other readers answer empty.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (input: LedgerInput): Ledger =>
  Ledger.of({
    recordFailureCause: (f) => Effect.suspend(() => input.recordFailure(failureFromInput(f))),
    recordFallback: () => Effect.void,
    recordQuarantine: () => Effect.void,
    recordCall: () => Effect.void,
    recordUsage: () => Effect.void,
    recordToolCall: () => Effect.void,
    fallbacks: () => Effect.succeed([]),
    quarantines: () => Effect.succeed([]),
    callStats: () => Effect.succeed([]),
    usage: () => Effect.succeed([]),
    toolCalls: () => Effect.succeed([]),
    stats: Effect.succeed(emptyStats),
    ...input
  })

const spanAnnotation = Symbol.for("effect/SpanAnnotation")

/**
 * The traceback of a cause that is one plain `Error` (no `_tag`, no `cause`,
 * no span annotation): its `stack`, which is what `Cause.pretty` prints for
 * it, at a third of the cost. `undefined` for anything else.
 */
const plainErrorStack = (cause: Cause.Cause<unknown>): string | undefined => {
  const e = cause._tag === "Fail" ? cause.error : cause._tag === "Die" ? cause.defect : undefined
  if (!(e instanceof Error) || "_tag" in e || e.cause !== undefined || spanAnnotation in e) return undefined
  const stack = e.stack
  return typeof stack === "string" && stack.startsWith(`${e.name}: ${e.message}`) ? stack : undefined
}

/**
 * Renders a `FailureInput` (the error's type, message and `Cause.pretty`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const failureFromInput = (input: FailureInput): FailureRecord => {
  const squashed = CauseModule.squash(input.cause)
  let errorType = "Error"
  let errorMessage = ""
  try {
    if (squashed !== null && typeof squashed === "object") {
      const tag = (squashed as { _tag?: unknown })._tag
      errorType = typeof tag === "string" ? tag : (squashed as object).constructor?.name ?? "Error"
      const message = (squashed as { message?: unknown }).message
      errorMessage = typeof message === "string" ? message : String(squashed)
    } else {
      errorType = typeof squashed
      errorMessage = String(squashed)
    }
  } catch {
    errorMessage = "(the error could not be rendered)"
  }
  let traceback: string
  try {
    traceback = plainErrorStack(input.cause) ?? CauseModule.pretty(input.cause)
  } catch {
    traceback = errorMessage
  }
  return new FailureRecord({
    breakerName: input.breakerName,
    category: input.category,
    errorType,
    errorMessage: errorMessage === "" ? errorType : errorMessage,
    traceback,
    createdAt: input.createdAt
  }, { disableValidation: true })
}

/**
 * Records an SQL ledger could not write: its write queue was full (the oldest go
 * first), the database could not be opened or written, or the flush deadline passed.
 *
 * @since 0.1.0
 * @category metrics
 */
export const droppedRecords = Metric.counter("agentarmour_ledger_dropped_records_total", {
  description:
    "ledger records that could not be written: queue overflow (the oldest go first), a database that cannot be opened or written, the flush deadline",
  incremental: true
})

/**
 * Batch writes of an SQL ledger that failed (each is retried).
 *
 * @since 0.1.0
 * @category metrics
 */
export const writeErrors = Metric.counter("agentarmour_ledger_write_errors_total", {
  description: "ledger batch writes that failed and were retried",
  incremental: true
})

/**
 * Default number of rows a query returns.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_LIMIT = 20

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

const MINUTE_MILLIS = 60_000

/**
 * Start of the minute of `millis`, as an ISO string
 *
 * @since 0.2.0
 */
export const minuteOf = (millis: number): string => new Date(millis - (millis % MINUTE_MILLIS)).toISOString()

/**
 * Per-breaker, per-minute call counters kept in memory until written
 * (`recordCall` and `recordFallback` add to them synchronously).
 *
 * @since 0.2.0
 * @category models
 */
export interface CallCounter {
  readonly breakerName: string
  readonly minute: string
  calls: number
  failures: number
  rejections: number
  timeouts: number
  slowCalls: number
  fallbacks: Record<string, number>
}

/** @internal adds one call or fallback to the counters of its breaker and minute */
export const countCall = (
  counters: Map<string, CallCounter>,
  breakerName: string,
  at: Date,
  add: (c: CallCounter) => void
): void => {
  const m = Math.floor(at.getTime() / MINUTE_MILLIS)
  const key = `${breakerName}\u0000${m}`
  let c = counters.get(key)
  if (c === undefined) {
    const minute = minuteOf(m * MINUTE_MILLIS)
    c = { breakerName, minute, calls: 0, failures: 0, rejections: 0, timeouts: 0, slowCalls: 0, fallbacks: {} }
    counters.set(key, c)
  }
  add(c)
}

/** @internal how a call's outcome adds to its minute */
export const addCall = (record: CallRecord) => (c: CallCounter): void => {
  switch (record.outcome) {
    case "rejected":
      c.rejections++
      return
    case "failure":
      c.failures++
      break
    case "timeout":
      c.timeouts++
      break
  }
  c.calls++
  if (record.slow) c.slowCalls++
}

/** @internal how a fallback adds to its minute */
export const addFallback = (strategy: string) => (c: CallCounter): void => {
  c.fallbacks[strategy] = (c.fallbacks[strategy] ?? 0) + 1
}

/** @internal one row of call statistics */
export const callStatsOf = (c: Omit<CallCounter, "minute"> & { readonly minute: Date }): CallStats =>
  new CallStats({
    breakerName: c.breakerName,
    minute: c.minute,
    calls: c.calls,
    failures: c.failures,
    rejections: c.rejections,
    timeouts: c.timeouts,
    slowCalls: c.slowCalls,
    fallbacks: c.fallbacks
  }, true)

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
 * Options of the SQL ledger.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqlOptions {
  /** prefix of the table names, default `cb_` */
  readonly tablePrefix?: string | undefined
  /** capacity of the write queue; when full the oldest records are dropped and counted (default 100,000) */
  readonly queueCapacity?: number | undefined
  /** records written per transaction (default 1,000) */
  readonly batchSize?: number | undefined
  /** closing the layer's scope (and `flush`) waits at most this long for the database (default 10 seconds) */
  readonly flushTimeout?: Duration.DurationInput | undefined
  /** delete records older than this (`30d`, `12h`, `90m` or a `Duration`) in the background, on the `Clock`; default: keep everything */
  readonly retention?: Duration.DurationInput | string | undefined
  /** how often the background pruning runs when `retention` is set (default 1 hour) */
  readonly pruneInterval?: Duration.DurationInput | undefined
  /** how a database that cannot be opened is retried (default: exponential from 1 second, capped at 1 minute) */
  readonly reopenSchedule?: Schedule.Schedule<unknown> | undefined
  /**
   * how a failed batch write is retried before its records are counted dropped
   * (default: exponential from 20 ms, at most 2 s apart, for up to 30 seconds)
   */
  readonly writeRetry?: Schedule.Schedule<unknown> | undefined
}

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
    Effect.promise(() => import("./internal/sqlLedger.js")),
    (internal) => internal.pruneOlderThan(options.tablePrefix ?? DEFAULT_TABLE_PREFIX, options.olderThan)
  )

/**
 * Parses a retention or prune age: `30d`, `12h`, `90m`, `45s`, or any
 * `Duration` string such as `"30 days"`. `None` when it is not a positive
 * finite duration.
 *
 * @since 0.2.0
 * @category constructors
 */
export const parseAge = (input: Duration.DurationInput | string): Option.Option<Duration.Duration> => {
  const short = typeof input === "string" ? /^\s*(\d+(?:\.\d+)?)\s*(d|h|m|s|w)\s*$/i.exec(input) : null
  const units: Record<string, number> = { w: 7 * DAY_MILLIS, d: DAY_MILLIS, h: 3_600_000, m: 60_000, s: 1000 }
  const decoded = short !== null
    ? Option.some(Duration.millis(Number(short[1]) * units[short[2]!.toLowerCase()]!))
    : Duration.decodeUnknown(input)
  return Option.filter(decoded, (d) => Duration.isFinite(d) && Duration.toMillis(d) > 0)
}
