/**
 * The seven refusals of ToolGuard. Each `message` is written for the model
 * that made the call, so that it can correct itself on its next turn.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

const list = (items: ReadonlyArray<string>): string => items.map((s) => `"${s}"`).join(", ")

const clip = (text: string, max = 500): string => text.length > max ? `${text.slice(0, max)}…` : text

/** the model called a tool that does not exist */
export class UnknownToolError extends Schema.TaggedError<UnknownToolError>()("UnknownToolError", {
  tool: Schema.String,
  available: Schema.Array(Schema.String),
  suggestion: Schema.NullOr(Schema.String)
}) {
  override get message(): string {
    const hint = this.suggestion === null ? "" : ` Did you mean "${this.suggestion}"?`
    return `Error: there is no tool named "${this.tool}".${hint} The available tools are: ${
      list(this.available)
    }. Call one of them by its exact name.`
  }
}

/** the arguments do not match the tool's schema */
export class InvalidToolArgsError extends Schema.TaggedError<InvalidToolArgsError>()("InvalidToolArgsError", {
  tool: Schema.String,
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Error: invalid arguments for tool "${this.tool}":\n${
      this.issues.map((i) => `- ${i}`).join("\n")
    }\nFix these arguments and call the tool again.`
  }
}

/** the arguments are not valid JSON (even after repair) */
export class MalformedToolCallError extends Schema.TaggedError<MalformedToolCallError>()("MalformedToolCallError", {
  tool: Schema.String,
  raw: Schema.String,
  error: Schema.String
}) {
  override get message(): string {
    return `Error: the arguments of your call to "${this.tool}" are not valid JSON (${this.error}). You sent: ${
      clip(this.raw)
    }\nSend the arguments again as one JSON object.`
  }
}

/** the same call (name and canonical arguments) was made too many times in this run */
export class RepeatedToolCallError extends Schema.TaggedError<RepeatedToolCallError>()("RepeatedToolCallError", {
  tool: Schema.String,
  count: Schema.Number
}) {
  override get message(): string {
    return `Error: you already called "${this.tool}" with these exact arguments ${
      this.count - 1
    } times in this run; calling it again will not give a different answer. Use the results you have, or try different arguments or another tool.`
  }
}

/** a per-run cap (all tools, or this tool) is reached */
export class ToolCallLimitError extends Schema.TaggedError<ToolCallLimitError>()("ToolCallLimitError", {
  tool: Schema.String,
  limit: Schema.Number,
  scope: Schema.Literal("run", "tool")
}) {
  override get message(): string {
    return this.scope === "tool"
      ? `Error: "${this.tool}" may be called at most ${this.limit} times in a run, and that limit is reached. Answer with what you have, or use another tool.`
      : `Error: this run may make at most ${this.limit} tool calls, and that limit is reached. Answer with what you have, without calling tools.`
  }
}

/** the call is not allowed (`deny`) or a human rejected it (`ask`) */
export class ToolPermissionError extends Schema.TaggedError<ToolPermissionError>()("ToolPermissionError", {
  tool: Schema.String,
  decision: Schema.Literal("denied", "rejected"),
  reason: Schema.String
}) {
  override get message(): string {
    return this.decision === "denied"
      ? `Error: you are not allowed to call "${this.tool}" (${this.reason}). Do not call it again; find another way.`
      : `Error: your call to "${this.tool}" was rejected by a reviewer: ${this.reason}. Do not repeat it as it was.`
  }
}

/** the tool returned something its result schema refuses */
export class InvalidToolResultError extends Schema.TaggedError<InvalidToolResultError>()("InvalidToolResultError", {
  tool: Schema.String,
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Error: the tool "${this.tool}" returned an invalid result:\n${
      this.issues.map((i) => `- ${i}`).join("\n")
    }\nDo not rely on it; try another way.`
  }
}

/** any refusal of ToolGuard */
export type ToolCallError =
  | UnknownToolError
  | InvalidToolArgsError
  | MalformedToolCallError
  | RepeatedToolCallError
  | ToolCallLimitError
  | ToolPermissionError
  | InvalidToolResultError

const refusalTags: ReadonlySet<string> = new Set([
  "UnknownToolError",
  "InvalidToolArgsError",
  "MalformedToolCallError",
  "RepeatedToolCallError",
  "ToolCallLimitError",
  "ToolPermissionError",
  "InvalidToolResultError"
])

/** one of ToolGuard's refusals (its message is written for the model) */
export const isToolCallError = (u: unknown): u is ToolCallError => {
  if (typeof u !== "object" || u === null) return false
  try {
    return refusalTags.has((u as { readonly _tag?: unknown })._tag as string)
  } catch {
    return false
  }
}

/** the tool's breaker refused the call (open, or isolated by an operator); total on hostile values */
export const isBreakerRefusal = (u: unknown): boolean => {
  if (typeof u !== "object" || u === null) return false
  try {
    const tag = (u as { readonly _tag?: unknown })._tag
    return tag === "CircuitOpenError" || tag === "CircuitIsolatedError"
  } catch {
    return false
  }
}
