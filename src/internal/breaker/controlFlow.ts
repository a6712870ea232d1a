/**
 * LangGraph control flow is not failure. `interrupt()` throws a
 * `GraphInterrupt`, and `Command({ graph: Command.PARENT })` a
 * `ParentCommand`, from inside a node; both must pass through a breaker
 * uncounted. The core cannot import `@langchain/langgraph`, so this mirrors
 * its `isGraphBubbleUp` (`e.is_bubble_up === true`, on `GraphBubbleUp` and its
 * subclasses `GraphInterrupt`, `NodeInterrupt`, `ParentCommand`):
 * https://github.com/langchain-ai/langgraphjs/blob/main/libs/langgraph-core/src/errors.ts
 *
 * The name checks keep errors recognised when they cross a serialisation
 * boundary that drops the getter (`lg_name` is LangGraph's own name field).
 * Tested against the real classes in `test/controlFlow.test.ts`.
 */
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"

const CONTROL_FLOW_NAMES = new Set(["GraphInterrupt", "NodeInterrupt", "ParentCommand", "GraphBubbleUp"])

/** whether a thrown or failed value is LangGraph control flow */
export const isControlFlow = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null) return false
  try {
    const e = error as { readonly is_bubble_up?: unknown; readonly name?: unknown; readonly lg_name?: unknown }
    if (e.is_bubble_up === true) return true
    return (typeof e.lg_name === "string" && CONTROL_FLOW_NAMES.has(e.lg_name)) ||
      (typeof e.name === "string" && CONTROL_FLOW_NAMES.has(e.name) && "is_bubble_up" in e)
  } catch {
    // a hostile getter: whatever it is, it is not LangGraph's
    return false
  }
}

/** whether a cause's first failure (or defect) is control flow */
export const causeIsControlFlow = (cause: Cause.Cause<unknown>): boolean => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return isControlFlow(failure.value)
  const defect = Cause.dieOption(cause)
  return Option.isSome(defect) && isControlFlow(defect.value)
}
