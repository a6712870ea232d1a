/**
 * The "tool calls" panel: ToolGuard's decisions (`cb_tool_calls`) added up
 * per tool and outcome, refusals apart.
 *
 * @since 0.3.0
 */
import type * as Ledger from "../../Ledger.js"

/**
 * What an outcome means for the panel: the tool `ran` (`ok`, `repaired`,
 * `approved`), ToolGuard `refused` the call or its result (the outcomes of
 * `ToolGuard.outcomeOf`), or the tool `failed` (its own error, or its breaker
 * was OPEN and it was not called).
 *
 * @since 0.3.0
 */
export type OutcomeKind = "ran" | "refused" | "failed"

/**
 * The kind of every outcome; a new outcome in `Ledger.ToolCallOutcome` does not compile until it has one.
 *
 * @since 0.3.0
 */
export const OUTCOME_KIND: { readonly [O in Ledger.ToolCallOutcome]: OutcomeKind } = {
  ok: "ran",
  repaired: "ran",
  approved: "ran",
  unknown_tool: "refused",
  invalid_args: "refused",
  malformed: "refused",
  repeated: "refused",
  limit: "refused",
  denied: "refused",
  rejected: "refused",
  invalid_result: "refused",
  failed: "failed",
  open: "failed"
}

/**
 * The newest decision ToolGuard refused for a tool.
 *
 * @since 0.3.0
 */
export interface Refusal {
  readonly outcome: Ledger.ToolCallOutcome
  /** the message the model read */
  readonly detail: string | null
  readonly createdAt: Date
}

/**
 * How often one outcome was decided for a tool, and what it means.
 *
 * @since 0.3.0
 */
export interface OutcomeCount {
  readonly outcome: Ledger.ToolCallOutcome
  readonly kind: OutcomeKind
  readonly count: number
}

/**
 * One tool's decisions.
 *
 * @since 0.3.0
 */
export interface ToolSummary {
  readonly tool: string
  /** every decision recorded for the tool */
  readonly calls: number
  /** the tool ran: `ok`, `repaired`, `approved` */
  readonly ran: number
  /** ToolGuard refused the call or its result */
  readonly refused: number
  /** the tool failed, or its breaker was OPEN */
  readonly failed: number
  /** decisions per outcome seen: refusals first, then failures, then calls that ran; most frequent first */
  readonly outcomes: ReadonlyArray<OutcomeCount>
  readonly lastAt: Date
  readonly lastRefusal: Refusal | null
}

/**
 * How far back the panel looks: the last 24 hours, like the breakers' figures.
 *
 * @since 0.3.0
 */
export const WINDOW_MILLIS = 24 * 3600_000

/**
 * At most this many decisions (the newest) are added up per snapshot: a tick
 * that sees a new decision reads them again.
 *
 * @since 0.3.0
 */
export const MAX_ROWS = 2_000

/**
 * Adds up the decisions made at or after `since` (Unix milliseconds): one entry per tool, the tools with the most refusals
 * first, then by name.
 *
 * @since 0.3.0
 */
export const summarize = (
  records: Iterable<Ledger.ToolCallRecord>,
  since: number
): ReadonlyArray<ToolSummary> => {
  type Counting = { -readonly [K in Exclude<keyof ToolSummary, "outcomes">]: ToolSummary[K] } & {
    readonly counts: Map<Ledger.ToolCallOutcome, number>
  }
  const byTool = new Map<string, Counting>()
  for (const r of records) {
    if (r.createdAt.getTime() < since) continue
    let s = byTool.get(r.tool)
    if (s === undefined) {
      byTool.set(
        r.tool,
        s = {
          tool: r.tool,
          calls: 0,
          ran: 0,
          refused: 0,
          failed: 0,
          counts: new Map(),
          lastAt: r.createdAt,
          lastRefusal: null
        }
      )
    }
    s.calls++
    if (r.createdAt > s.lastAt) s.lastAt = r.createdAt
    s.counts.set(r.outcome, (s.counts.get(r.outcome) ?? 0) + 1)
    const kind = kindOf(r.outcome)
    s[kind]++
    if (kind === "refused" && (s.lastRefusal === null || r.createdAt > s.lastRefusal.createdAt)) {
      s.lastRefusal = { outcome: r.outcome, detail: r.detail, createdAt: r.createdAt }
    }
  }
  return Array.from(byTool.values(), ({ counts, ...s }) => ({ ...s, outcomes: outcomesOf(counts) })).sort((a, b) =>
    b.refused - a.refused || compare(a.tool, b.tool)
  )
}

/** an outcome written by a newer version is shown, as a failure */
const kindOf = (outcome: Ledger.ToolCallOutcome): OutcomeKind => OUTCOME_KIND[outcome] ?? "failed"

const KIND_ORDER: { readonly [K in OutcomeKind]: number } = { refused: 0, failed: 1, ran: 2 }

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

const outcomesOf = (counts: ReadonlyMap<Ledger.ToolCallOutcome, number>): ReadonlyArray<OutcomeCount> =>
  Array.from(counts, ([outcome, count]) => ({ outcome, kind: kindOf(outcome), count })).sort((a, b) =>
    KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || b.count - a.count || compare(a.outcome, b.outcome)
  )
