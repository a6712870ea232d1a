/**
 * The runtime of the bridge that entered a LangGraph call, by the call's
 * `AsyncLocalStorage` store (the object LangGraph sets for a node call, which
 * the bridge captures when the node is entered). Code that runs inside the
 * node's call outside any fiber — a chat model's `_generate`, a plain async
 * node — finds the bridge's services through it, notably its `Clock`, so a
 * bridge whose layer provides `TestClock` drives their sleeps too.
 *
 * Effect only: the LangGraph adapter registers, `agentarmour/testing` reads.
 * Registering costs a `WeakMap.set` (~150 ns) per node call, so it is off
 * until `agentarmour/testing` is loaded (`enable`): production pays one check.
 *
 * @internal
 */
import { globalValue } from "effect/GlobalValue"
import type * as Runtime from "effect/Runtime"

const state = globalValue(
  Symbol.for("agentarmour/callRuntime"),
  () => ({ enabled: false, runtimes: new WeakMap<object, Runtime.Runtime<never>>() })
)

/** @internal from now on, bridges register the runtime of each node call */
export const enable = (): void => {
  state.enabled = true
}

/** @internal */
export const register = (store: unknown, runtime: Runtime.Runtime<any>): void => {
  if (state.enabled && typeof store === "object" && store !== null) {
    state.runtimes.set(store, runtime as Runtime.Runtime<never>)
  }
}

/** @internal */
export const lookup = (store: unknown): Runtime.Runtime<never> | undefined =>
  typeof store === "object" && store !== null ? state.runtimes.get(store) : undefined
