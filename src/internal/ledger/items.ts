/**
 * What the write queue holds (one item per record offered) and how an item
 * becomes a row of its table.
 *
 * @internal
 */
import { iso } from "./columns.js"
import type { Row } from "./columns.js"
import type {
  FailureInput,
  FailureRecord,
  FallbackRecord,
  QuarantineRecord,
  ToolCallRecord,
  TransitionRecord,
  UsageRecord
} from "./records.js"
import { renderCached } from "./render.js"
import { toolCallRow } from "./toolCalls.js"

/** a record waiting in the write queue; a failure's cause is rendered by the writer */
export type Item =
  | { readonly _tag: "failure"; readonly record: FailureRecord }
  | { readonly _tag: "failureCause"; readonly input: FailureInput }
  | { readonly _tag: "transition"; readonly record: TransitionRecord }
  | { readonly _tag: "fallback"; readonly record: FallbackRecord }
  | { readonly _tag: "quarantine"; readonly record: QuarantineRecord }
  | { readonly _tag: "usage"; readonly record: UsageRecord }
  | { readonly _tag: "toolCall"; readonly record: ToolCallRecord }

/** the kinds of rows, in the order a batch writes them */
export const KINDS = ["failure", "transition", "fallback", "quarantine", "usage", "toolCall"] as const

/** a kind of row */
export type Kind = typeof KINDS[number]

/** the table (in `Tables`) of each kind */
export const TABLE_OF = {
  failure: "failures",
  transition: "transitions",
  fallback: "fallbacks",
  quarantine: "quarantines",
  usage: "usage",
  toolCall: "toolCalls"
} as const

/** record -> row, per kind */
export const toRow = (item: Item): [Kind, Row] => {
  switch (item._tag) {
    case "failureCause":
    case "failure": {
      const r = item._tag === "failure" ? item.record : renderCached(item.input)
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
    case "toolCall":
      return ["toolCall", toolCallRow(item.record)]
  }
}
