/**
 * Steps that produce each ToolGuard failure: a tool that does not exist,
 * arguments that are not JSON, arguments that break the tool's schema, the
 * same call over and over.
 *
 * @since 0.3.0
 */
import type { Answer, Step } from "./Step.js"

/**
 * A call to a tool that does not exist (`UnknownToolError`).
 *
 * @since 0.3.0
 * @category hallucinations
 */
export const unknownTool = (name: string, args: Record<string, unknown> = {}): Answer => ({
  toolCalls: [{ name, args }]
})

/**
 * A call whose arguments are not valid JSON: an `invalid_tool_calls` entry
 * (`MalformedToolCallError`). The default text, an object with a missing
 * value, stays invalid when the call is streamed too (LangChain's partial
 * JSON parser reads a merely truncated object as a valid call).
 *
 * @since 0.3.0
 * @category hallucinations
 */
export const malformedArgs = (tool: string, raw = "{\"query\": \"weather in Paris\", \"units\": }"): Answer => ({
  invalidToolCalls: [{ name: tool, args: raw, error: `Malformed args: ${raw}` }]
})

/**
 * A call whose arguments break the tool's schema (`InvalidToolArgsError`).
 *
 * @since 0.3.0
 * @category hallucinations
 */
export const invalidArgs = (tool: string, args: unknown): Answer => ({ toolCalls: [{ name: tool, args }] })

/**
 * The same step `n` times (`RepeatedToolCallError` once past the guard's
 * `repeats.max`); tool call ids stay distinct per call.
 *
 * @since 0.3.0
 * @category hallucinations
 */
export const repeat = (step: Step, n: number): ReadonlyArray<Step> => {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`repeat: n must be a non-negative integer, got ${n}`)
  return Array.from({ length: n }, (_, i) => withIds(step, i))
}

/** a copy of `step` whose explicit tool call ids get a `_<i>` suffix (ids must differ between calls) */
const withIds = (step: Step, i: number): Step => {
  if (typeof step === "string" || "fail" in step || i === 0) return step
  return {
    ...step,
    ...(step.toolCalls === undefined ? {} : {
      toolCalls: step.toolCalls.map((c) => c.id === undefined ? c : { ...c, id: `${c.id}_${i}` })
    }),
    ...(step.invalidToolCalls === undefined ? {} : {
      invalidToolCalls: step.invalidToolCalls.map((c) => c.id === undefined ? c : { ...c, id: `${c.id}_${i}` })
    })
  }
}
