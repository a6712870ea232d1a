/**
 * The tools bound to a chat model call, as `{ name, description, parameters }`
 * (JSON schema), whatever form they were bound in: LangChain tools, OpenAI
 * tool dicts, Anthropic's `input_schema`.
 *
 * @internal
 */
import type { BindToolsInput } from "@langchain/core/language_models/chat_models"
import { convertToOpenAITool } from "@langchain/core/utils/function_calling"

/** @internal */
export interface ToolSpec {
  readonly name: string
  readonly description?: string
  readonly parameters?: unknown
}

const fromRecord = (t: Record<string, unknown>): ToolSpec | undefined => {
  const fn = t["function"]
  if (typeof fn === "object" && fn !== null) return fromRecord(fn as Record<string, unknown>)
  if (typeof t["name"] !== "string") return undefined
  const parameters = t["parameters"] ?? t["input_schema"] ?? t["inputSchema"]
  return {
    name: t["name"],
    ...(typeof t["description"] === "string" ? { description: t["description"] } : {}),
    ...(parameters === undefined ? {} : { parameters })
  }
}

/** @internal */
export const toolSpec = (tool: BindToolsInput): ToolSpec => {
  let converted: unknown = tool
  try {
    converted = convertToOpenAITool(tool as Parameters<typeof convertToOpenAITool>[0])
  } catch {
    // a provider-specific dict: read it as it is
  }
  const spec = typeof converted === "object" && converted !== null
    ? fromRecord(converted as Record<string, unknown>)
    : undefined
  return spec ?? { name: String((tool as { name?: unknown }).name ?? "unknown") }
}

/** @internal */
export const toolSpecs = (tools: unknown): ReadonlyArray<ToolSpec> =>
  Array.isArray(tools) ? tools.map((t) => toolSpec(t as BindToolsInput)) : []
