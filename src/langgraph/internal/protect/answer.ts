/**
 * What answered one protected call, and the node's update and `Outcome`
 * made from it (the last stage of every call).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

import * as Budget from "../../../Budget.js"
import * as CircuitBreaker from "../../../CircuitBreaker.js"
import { describeCause, prettyCause } from "../../../internal/describe.js"
import { FALLBACK_KEY, QUARANTINED_KEY, TRACEBACK_KEY } from "../../markers.js"
import type { BudgetRefusal, Outcome } from "../../protectNode.js"
import * as LG from "../langgraph.js"
import type { Call } from "../strategies.js"

/** which strategy answered for a failed node, and why */
export interface Served {
  readonly strategy: string
  readonly traceback: string
  readonly error: string
}

/** what answered one call: the update, and which strategy served it (none: the node did) */
export interface Answer {
  readonly update: unknown
  readonly served: Served | undefined
  readonly contaminated: boolean
  readonly refusal?: BudgetRefusal | undefined
}

/** what the protected call returns to the LangGraph node */
export interface Result {
  readonly update: unknown
  readonly outcome: Outcome
  /** only when the run has callbacks (for the custom event) */
  readonly breakerState: CircuitBreaker.BreakerState | undefined
}

/** the node answered */
export const answered = (update: unknown, contaminated = false): Answer => ({ update, served: undefined, contaminated })

/** `strategy` answered for the failure `cause` */
export const servedBy = (strategy: string, cause: Cause.Cause<unknown>, update: unknown): Answer => ({
  update,
  served: { strategy, traceback: prettyCause(cause), error: describeCause(cause) },
  contaminated: false,
  refusal: refusalOf(cause)
})

/** nothing could answer: the failure still does not escape the node */
export const unanswered = (cause: Cause.Cause<unknown>): Answer => servedBy("none", cause, undefined)

/** LangGraph control flow (`interrupt()`, `Command` throws) or an interruption: never answered for */
export const isControlFlowCause = (cause: Cause.Cause<unknown>): boolean =>
  Cause.isInterruptedOnly(cause) || CircuitBreaker.isControlFlow(Cause.squash(cause))

/** `instanceof`, false for a hostile value (a Proxy whose getPrototypeOf throws) */
const isBudgetRefusal = (e: unknown): e is Budget.BudgetExceededError => {
  try {
    return e instanceof Budget.BudgetExceededError
  } catch {
    return false
  }
}

/** the budget refusal in a failure, if it is one */
const refusalOf = (cause: Cause.Cause<unknown>): BudgetRefusal | undefined => {
  for (const e of Cause.failures(cause)) {
    if (isBudgetRefusal(e)) {
      return {
        budget: e.budget,
        scope: e.scope,
        resource: e.resource,
        limit: e.limit,
        spent: e.spent,
        retryAfterMillis: e.retryAfterMillis
      }
    }
  }
  return undefined
}

/** the marker keys of an answer */
const markersOf = (answer: Answer, quarantined: ReadonlyArray<string>): Record<string, unknown> | undefined => {
  const { served } = answer
  if (served !== undefined) {
    return {
      [FALLBACK_KEY]: served.strategy,
      [TRACEBACK_KEY]: served.traceback,
      ...(quarantined.length > 0 ? { [QUARANTINED_KEY]: quarantined } : {})
    }
  }
  return quarantined.length > 0 ? { [QUARANTINED_KEY]: quarantined } : undefined
}

const outcomeKind = ({ contaminated, served }: Answer): Outcome["outcome"] =>
  served === undefined ? (contaminated ? "contaminated" : "ok") : served.strategy === "none" ? "failed" : "fallback"

/** the update, the outcome and (for the custom event) the breaker's state of an answered call */
export const finish = <S>(
  c: Call<S>,
  breakerName: string,
  runId: string,
  quarantined: ReadonlyArray<string>,
  answer: Answer,
  breaker: CircuitBreaker.CircuitBreaker
): Effect.Effect<Result> => {
  const outcome: Outcome = {
    node: c.node,
    breaker: breakerName,
    runId,
    outcome: outcomeKind(answer),
    fallback: answer.served?.strategy,
    error: answer.served?.error,
    quarantined,
    ...(answer.refusal === undefined ? {} : { budget: answer.refusal })
  }
  const update = LG.withMarkers(answer.update, markersOf(answer, quarantined))
  // the breaker's state is only for the custom event, sent when the run has callbacks
  return c.config.callbacks === undefined
    ? Effect.succeed({ update, outcome, breakerState: undefined })
    : Effect.map(breaker.state, (breakerState) => ({ update, outcome, breakerState }))
}
