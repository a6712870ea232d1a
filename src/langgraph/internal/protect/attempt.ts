/**
 * The attempt stage: calls the node under its breaker. A plain async node
 * is timed on the calling fiber (no child fiber); an Effect node runs in a
 * fiber the breaker's deadline interrupts; either way `config.signal` aborts
 * when the call is interrupted.
 *
 * @internal
 */
import type { LangGraphRunnableConfig } from "@langchain/langgraph"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { identity } from "effect/Function"

import type * as CircuitBreaker from "../../../CircuitBreaker.js"
import { awaitUntimed } from "../../../internal/breaker/timeout.js"
import type { SelfTimed } from "../../../internal/circuitBreaker.js"
import { InvalidUpdateError } from "../../errors.js"
import * as LG from "../langgraph.js"
import * as Strategies from "../strategies.js"

/** a node as LangGraph calls it (a subgraph is called through its `invoke`) */
export type RunNode<S> = (state: S, config: LangGraphRunnableConfig) => Strategies.MaybeAsync<unknown>

/** an update, a `Command` or nothing; anything else is the node's failure */
const checked = (node: string) => (update: unknown): Effect.Effect<unknown, InvalidUpdateError> =>
  LG.isInvalidUpdate(update)
    ? Effect.fail(new InvalidUpdateError({ node, returned: LG.describeValue(update) }))
    : Effect.succeed(update)

/**
 * Calls the node with `state`. Its `config.signal` is made on first read
 * (most nodes never read it) and aborted when the call is interrupted — by
 * the breaker's callTimeout, or because the graph run was aborted.
 */
export const callNode = <S, R>(
  run: RunNode<S>,
  state: S,
  c: Strategies.Call<S>,
  timed: SelfTimed | undefined
): Effect.Effect<unknown, unknown, R> =>
  Effect.suspend(() => {
    let controller: AbortController | undefined
    const config: LangGraphRunnableConfig = {
      ...c.config,
      get signal() {
        return (controller ??= new AbortController()).signal
      }
    }
    // stops the node: at its deadline (the CallTimeoutError is the reason) or when the call is interrupted
    const stop = (reason: unknown) => controller?.abort(reason ?? new Error(`node "${c.node}" was interrupted`))
    const check = checked(c.node)
    const timer = timed?.timer
    return Effect.flatMap(Strategies.runUserCode(() => run(state, config)), (result) => {
      // an update returned at once: nothing to wait for, nothing to time
      if (!Effect.isEffect(result) && !Strategies.isPromiseLike(result)) return check(result)
      if (Effect.isEffect(result)) {
        // the node's own Effect: its requirements are the bridge's (the one place they are asserted)
        const waited = Effect.onExit(
          result as Effect.Effect<unknown, unknown, R>,
          (exit) => Exit.isInterrupted(exit) ? Effect.sync(() => stop(undefined)) : Effect.void
        )
        return Effect.flatMap(timer === undefined ? waited : timer.run(waited), check)
      }
      // a promise is awaited on this fiber (until its deadline, under the breaker's callTimeout);
      // cancelable: the node may read its signal after its first await (a few µs on a call that waits on I/O)
      const waited = timer === undefined
        ? awaitUntimed(result, stop, identity, true)
        : timer.awaitPromise(result, stop, identity, true)
      return Effect.flatMap(waited, check)
    })
  })

/** the call under the breaker; a breaker of ours leaves the call timeout to `callNode` */
export const underBreaker = <A, E, R>(
  called: Effect.Effect<A, E, R>,
  breaker: CircuitBreaker.CircuitBreaker,
  timed: SelfTimed | undefined
): Effect.Effect<A, E | CircuitBreaker.BreakerError, R> =>
  timed === undefined ? breaker.execute(called) : timed.run(called)
