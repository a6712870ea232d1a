/**
 * What a ledger holds: its records, the queries over them, its statistics
 * and its error. `Ledger.ts` re-exports them; the SQL ledger's modules
 * import them from here, so that imports run one way.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Schema from "effect/Schema"

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
 * Default number of rows a query returns.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_LIMIT = 20
