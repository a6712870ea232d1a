/**
 * The fallback stages: a clean answer is remembered (the cache strategy
 * stores it); a failure is answered by the node's strategy.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

import type * as Strategies from "../strategies.js"
import { type Answer, servedBy } from "./answer.js"

/** the strategy remembers every clean answer of the node (the cache stores it) */
export const remembered = <S, E, R>(
  answer: Effect.Effect<Answer, E, R>,
  strategy: Strategies.Strategy<S>,
  c: Strategies.Call<S>
): Effect.Effect<Answer, E, R> => {
  const onSuccess = strategy.onSuccess
  return onSuccess === undefined
    ? answer
    : Effect.tap(answer, (a) => a.contaminated ? Effect.void : onSuccess(a.update, c))
}

/** a failure answered by the strategy (or left failed: it has nothing, or it is LangGraph control flow) */
export const recovered = <S, E, R>(
  answer: Effect.Effect<Answer, E, R>,
  strategy: Strategies.Strategy<S>,
  c: Strategies.Call<S>
): Effect.Effect<Answer, unknown, R> =>
  Effect.catchAllCause(answer, (cause) =>
    Effect.map(
      strategy.recover(Effect.failCause(cause), c) as Effect.Effect<unknown, unknown, R>,
      (update) => servedBy(strategy.name, cause, update)
    ))
