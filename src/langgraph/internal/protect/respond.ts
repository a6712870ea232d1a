/**
 * Running a node's program on the bridge: at once when it does not suspend
 * (no promise, no microtask: a bridge of ours has `RunNow`), else as a promise.
 *
 * @internal
 */
import { type Bridge, RunNow, type RunNowFn } from "../../LangGraphBridge.js"

/** the bridge's run that answers at once when the program did not suspend */
export const runNowOf = <R>(bridge: Bridge<R>): RunNowFn<R> =>
  (bridge as { readonly [RunNow]?: RunNowFn<R> })[RunNow] ?? bridge.run
