/**
 * The ledger service: its interface, its tag, and `make`, which fills the
 * members a hand-written ledger leaves out.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

import type {
  BreakerSummary,
  CallRecord,
  CallStats,
  FailureInput,
  FailureRecord,
  FallbackRecord,
  LedgerError,
  LedgerStats,
  QuarantineRecord,
  Query,
  StatsQuery,
  ToolCallQuery,
  ToolCallRecord,
  TransitionRecord,
  UsageQuery,
  UsageRecord,
  UsageSummary
} from "./records.js"
import { failureFromInput } from "./render.js"

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
