/**
 * What a node's AI messages spent: the `usage_metadata` LangChain chat
 * models attach to an `AIMessage` (`input_tokens`, `output_tokens`), the
 * model from `response_metadata.model_name` (OpenAI, Anthropic...) or
 * `response_metadata.model` (Ollama...), priced with the user's table.
 *
 * AI messages are recognised with `@langchain/core`'s own `AIMessage.isInstance`
 * / `AIMessageChunk.isInstance`; a plain object update (`{ type: "ai" }` or
 * `{ role: "assistant" }`, which LangGraph's messages reducer turns into an
 * `AIMessage`) is read the same way. Tested in `test/BudgetLangGraph.test.ts`
 * with real messages in a real `StateGraph`.
 *
 * @internal
 */
import { AIMessage, AIMessageChunk } from "@langchain/core/messages"
import type * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

import type * as Budget from "../../Budget.js"
import { updateOf } from "./langgraph.js"

/**
 * Dollars per million tokens, per model name (no built-in price list: prices change).
 *
 * @since 0.2.0
 * @category models
 */
export interface Pricing {
  readonly [model: string]: { readonly inputPer1M: number; readonly outputPer1M: number }
}

const Price = Schema.Number.pipe(
  Schema.finite({ message: () => "Expected a finite number of dollars per million tokens" }),
  Schema.nonNegative({ message: () => "Expected a non-negative number of dollars per million tokens" })
)
const PricingSchema = Schema.Record({
  key: Schema.String,
  value: Schema.Struct({ inputPer1M: Price, outputPer1M: Price })
}).annotations({ identifier: "Pricing" })

/** checks a pricing table: a ParseError names the model and the field */
export const decodePricing = (pricing: unknown): Effect.Effect<Pricing, ParseResult.ParseError> =>
  Schema.decodeUnknown(PricingSchema, { errors: "all", onExcessProperty: "error" })(pricing)

const isAi = (u: unknown): boolean => {
  if (typeof u !== "object" || u === null) return false
  if (AIMessage.isInstance(u) || AIMessageChunk.isInstance(u)) return true
  const m = u as { readonly type?: unknown; readonly role?: unknown }
  return m.type === "ai" || m.role === "assistant"
}

const count = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) && u > 0 ? u : 0)

const modelOf = (message: Record<string, any>): string | undefined => {
  const meta = message["response_metadata"]
  if (typeof meta !== "object" || meta === null) return undefined
  const name = meta.model_name ?? meta.model
  return typeof name === "string" ? name : undefined
}

/** the usage of one AI message, `undefined` without `usage_metadata` */
const usageOfMessage = (message: Record<string, any>, pricing: Pricing | undefined): Budget.Usage | undefined => {
  const meta = message["usage_metadata"]
  if (typeof meta !== "object" || meta === null) return undefined
  const tokensIn = count(meta.input_tokens)
  const tokensOut = count(meta.output_tokens)
  const model = modelOf(message)
  const price = model === undefined ? undefined : pricing?.[model]
  const costUsd = price === undefined ? 0 : (tokensIn * price.inputPer1M + tokensOut * price.outputPer1M) / 1e6
  return { tokensIn, tokensOut, costUsd, model }
}

/**
 * The usage of every AI message in a node's output (an update or a
 * `Command`'s update): in any channel, alone or in an array.
 */
export const usagesOf = (output: unknown, pricing: Pricing | undefined): ReadonlyArray<Budget.Usage> => {
  const update = updateOf(output)
  if (update === undefined) return []
  const out: Array<Budget.Usage> = []
  const visit = (value: unknown) => {
    if (isAi(value)) {
      const usage = usageOfMessage(value as Record<string, any>, pricing)
      if (usage !== undefined) out.push(usage)
    }
  }
  for (const value of Object.values(update)) {
    if (Array.isArray(value)) value.forEach(visit)
    else visit(value)
  }
  return out
}
