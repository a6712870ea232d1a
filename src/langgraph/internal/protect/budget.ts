/**
 * The budget stages: the node's output is charged (the `usage_metadata` of
 * its AI messages) inside the attempt, and the budget goes around the
 * breaker and the guard — a refusal is not the node's failure, and the node
 * never runs.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

import * as Budget from "../../../Budget.js"
import { type Pricing, usagesOf } from "../usage.js"

/** the attempt, charging what the AI messages of its output spent to the enclosing budget */
export const charging = <A, E, R>(attempt: Effect.Effect<A, E, R>, pricing: Pricing | undefined) =>
  Effect.tap(attempt, (output) => Effect.forEach(usagesOf(output, pricing), Budget.charge, { discard: true }))

/** the call under the node's budget */
export const budgeted = <A, E, R>(answer: Effect.Effect<A, E, R>, budget: Budget.Budget, node: string) =>
  Budget.withBudget(answer, budget, { node })
