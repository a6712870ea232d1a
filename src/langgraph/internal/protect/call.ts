/**
 * One protected call, as a list of stages: attempt (the node under its
 * breaker), guard, budget, fallback, then the answer. A stage the node did
 * not ask for is not in its list, so the common case (a breaker, a cache)
 * is a few Effect steps — and the only implementation.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

import * as CascadeGuard from "../../../CascadeGuard.js"
import { handlers, selfTimed } from "../../../internal/circuitBreaker.js"
import type { Services } from "../../LangGraphBridge.js"
import * as LG from "../langgraph.js"
import * as Strategies from "../strategies.js"
import { type Answer, answered, finish, isControlFlowCause, type Result, unanswered } from "./answer.js"
import { callNode, underBreaker } from "./attempt.js"
import { budgeted, charging } from "./budget.js"
import { recovered, remembered } from "./fallback.js"
import { inspected, masked } from "./guard.js"
import type { Plan, Resources } from "./plan.js"

/** the node's answer to one call, before the fallback: attempt, guard, budget, remembered */
const answerOf = <S, R>(
  plan: Plan<S>,
  c: Strategies.Call<S>,
  visible: S,
  { breaker, budget }: Resources,
  guard: CascadeGuard.CascadeGuard | undefined
): Effect.Effect<Answer, unknown, R> => {
  const timed = selfTimed(breaker)
  const called = callNode<S, R>(plan.run, visible, c, timed)
  const attempt = underBreaker(budget === undefined ? called : charging(called, plan.pricing), breaker, timed)
  const checked = guard === undefined || plan.guard === undefined
    ? Effect.map(attempt, (update) => answered(update))
    : inspected(guard, plan.guard, attempt)
  return remembered(budget === undefined ? checked : budgeted(checked, budget, c.node), plan.strategy, c)
}

/** resumed after an escalation by `interrupt()`: the human answers; the failed node is not called again */
const resumed = <S, R>(c: Strategies.Call<S>, escalation: LG.Escalation): Effect.Effect<Answer, unknown, R> =>
  Effect.map(
    Strategies.call(() => LG.answerOf(c.config, escalation)) as Effect.Effect<unknown, unknown, R>,
    (update): Answer => ({
      update,
      served: { strategy: "escalate", traceback: escalation.traceback, error: escalation.error },
      contaminated: false
    })
  )

/** the answer, or the fallback's; whatever happens the node's update and outcome (control flow passes) */
const settled = <S, R>(
  plan: Plan<S>,
  c: Strategies.Call<S>,
  runId: string,
  quarantined: ReadonlyArray<string>,
  resources: Resources,
  answer: Effect.Effect<Answer, unknown, R>
): Effect.Effect<Result, unknown, R> =>
  Effect.matchCauseEffect(
    answer,
    handlers(
      (a: Answer) => finish(c, plan.name, runId, quarantined, a, resources.breaker),
      (cause: Cause.Cause<unknown>) =>
        isControlFlowCause(cause)
          ? Effect.failCause(cause)
          : finish(c, plan.name, runId, quarantined, unanswered(cause), resources.breaker)
    )
  )

/** one call: its resources made on first use, the guard's view of the state, the stages */
const general = <S extends Record<string, any>, R>(
  plan: Plan<S>,
  c: Strategies.Call<S>,
  runId: string
): Effect.Effect<Result, unknown, R | Services> =>
  Effect.gen(function*() {
    const resources = yield* plan.resources.get
    const guard = plan.guard === undefined ? undefined : yield* CascadeGuard.CascadeGuard
    const { quarantined, state } = yield* masked(guard, plan.guard, c.state)
    const escalation = LG.pendingEscalation(c.config)
    const answer = escalation !== undefined
      ? resumed<S, R>(c, escalation)
      : recovered(answerOf<S, R>(plan, c, state, resources, guard), plan.strategy, c)
    return yield* settled(plan, c, runId, quarantined, resources, answer)
  })

const noKeys: ReadonlyArray<string> = []

/**
 * One protected call. The fast path skips the steps that do nothing in the
 * common case — resources made, no guard, no escalation to resume — and
 * runs the same stages.
 */
export const protectedCall = <S extends Record<string, any>, R>(
  plan: Plan<S>,
  c: Strategies.Call<S>,
  runId: string
): Effect.Effect<Result, unknown, R | Services> => {
  const resources = plan.resources.value
  if (resources === undefined || plan.guard !== undefined || LG.pendingEscalation(c.config) !== undefined) {
    return general(plan, c, runId)
  }
  const answer = recovered(answerOf<S, R>(plan, c, c.state, resources, undefined), plan.strategy, c)
  return settled(plan, c, runId, noKeys, resources, answer)
}
