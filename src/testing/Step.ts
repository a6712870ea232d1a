/**
 * What a scripted model answers, one step per call.
 *
 * @since 0.3.0
 */
import type * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

import { DurationInput } from "../internal/duration.js"

/**
 * A tool call the model makes. `id` defaults to a stable id made from the
 * model's name, the call number and the position.
 *
 * @since 0.3.0
 * @category models
 */
export interface ToolCall {
  readonly name: string
  readonly args: unknown
  readonly id?: string
}

/**
 * A tool call whose arguments are not valid JSON (LangChain's `invalid_tool_calls`).
 *
 * @since 0.3.0
 * @category models
 */
export interface InvalidToolCall {
  readonly name?: string
  readonly args: string
  readonly error?: string
  readonly id?: string
}

/**
 * An answer: text, tool calls, usage (tokens; estimated from the text when
 * omitted), the model name in `response_metadata.model_name`, and a latency
 * on Effect's `Clock`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Answer {
  readonly text?: string
  readonly toolCalls?: ReadonlyArray<ToolCall>
  readonly invalidToolCalls?: ReadonlyArray<InvalidToolCall>
  readonly usage?: { readonly input: number; readonly output: number }
  readonly model?: string
  readonly latency?: Duration.DurationInput
}

/**
 * A failure shaped like the providers': `"rate_limit"` (status 429),
 * `"server_error"` (status 500), `"timeout"` (`APIConnectionTimeoutError`),
 * or your own `Error`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Failure {
  readonly fail: "rate_limit" | "server_error" | "timeout" | Error
  readonly latency?: Duration.DurationInput
}

/**
 * One step of a script: a string is `{ text }`.
 *
 * @since 0.3.0
 * @category models
 */
export type Step = string | Answer | Failure

const Tokens = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

const AnswerSchema = Schema.Struct({
  text: Schema.optional(Schema.String),
  toolCalls: Schema.optional(Schema.Array(Schema.Struct({
    name: Schema.String,
    args: Schema.Unknown,
    id: Schema.optional(Schema.String)
  }))),
  invalidToolCalls: Schema.optional(Schema.Array(Schema.Struct({
    name: Schema.optional(Schema.String),
    args: Schema.String,
    error: Schema.optional(Schema.String),
    id: Schema.optional(Schema.String)
  }))),
  usage: Schema.optional(Schema.Struct({ input: Tokens, output: Tokens })),
  model: Schema.optional(Schema.String),
  latency: Schema.optional(DurationInput)
})

const FailureSchema = Schema.Struct({
  fail: Schema.Union(
    Schema.Literal("rate_limit", "server_error", "timeout"),
    Schema.instanceOf(Error)
  ),
  latency: Schema.optional(DurationInput)
})

/** @internal */
export const StepSchema = Schema.Union(
  Schema.String.pipe(Schema.transform(AnswerSchema, {
    strict: false,
    decode: (text) => ({ text }),
    encode: (a) => a.text ?? ""
  })),
  FailureSchema,
  AnswerSchema
)

/** @internal */
export type DecodedStep = typeof StepSchema.Type

/** @internal the steps, decoded; a bad step is a ParseError naming its index and field */
export const decodeSteps: (steps: ReadonlyArray<Step>) => ReadonlyArray<DecodedStep> = Schema.decodeUnknownSync(
  Schema.Array(StepSchema),
  { onExcessProperty: "error" }
)
