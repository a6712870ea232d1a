/**
 * `guardedToolNode`: a drop-in for LangGraph's `ToolNode` that checks every
 * tool call with a `ToolGuard` — and answers every call, `tool_calls` and
 * `invalid_tool_calls` alike, with exactly one `ToolMessage` in call order.
 *
 * @since 0.3.0
 */
import { type AIMessage, isAIMessage, ToolMessage } from "@langchain/core/messages"
import { Validator } from "@langchain/core/utils/json_schema"
import { END, isCommand, type LangGraphRunnableConfig } from "@langchain/langgraph"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Schema from "effect/Schema"

import * as CircuitBreaker from "../CircuitBreaker.js"
import { describe, messageOf } from "../internal/describe.js"
import { isBreakerRefusal, isToolCallError } from "../internal/toolGuard/errors.js"
import { Limit, PermissionSchema } from "../internal/toolGuard/options.js"
import * as ToolGuard from "../ToolGuard.js"
import * as LG from "./internal/langgraph.js"
import { runNowOf } from "./internal/protect/respond.js"
import * as Span from "./internal/protect/span.js"
import * as LangGraphBridge from "./LangGraphBridge.js"

/**
 * The options of `guardedToolNode`.
 *
 * @since 0.3.0
 * @category models
 */
export interface GuardedToolNodeOptions {
  /** per tool; without one, MCP annotations decide (`readOnlyHint` → allow, `destructiveHint` → ask), else allow */
  readonly permissions?: Readonly<Record<string, ToolGuard.Permission>> | undefined
  readonly maxCallsPerRun?: number | undefined
  readonly repeats?: { readonly max: number } | undefined
  readonly repair?: boolean | undefined
  /** the ledger name; default `"tools"` */
  readonly name?: string | undefined
  /** default `"messages"` */
  readonly messagesKey?: string | undefined
}

/**
 * The value `guardedToolNode` passes to `interrupt()` for an `ask` tool.
 *
 * @since 0.3.0
 * @category models
 */
export interface ToolApprovalRequest {
  readonly type: "agentarmour/tool-approval"
  readonly tool: string
  readonly args: unknown
  readonly callId: string | undefined
}

/**
 * Span attribute on the node span: how many tool calls the node answered.
 *
 * @since 0.3.0
 */
export const SPAN_TOOL_CALLS: typeof Span.SPAN_TOOL_CALLS = Span.SPAN_TOOL_CALLS

/**
 * Span attribute on the node span: how many of them were refused or failed
 * (answered with an error `ToolMessage`).
 *
 * @since 0.3.0
 */
export const SPAN_TOOL_REFUSALS: typeof Span.SPAN_TOOL_REFUSALS = Span.SPAN_TOOL_REFUSALS

/** the reviewers' decisions of the node call being answered */
const currentDecisions = FiberRef.unsafeMake<ReadonlyMap<string, ToolGuard.ToolDecision>>(new Map())

/**
 * What `guardedToolNode` needs of a tool: any LangChain tool (`tool()`,
 * `DynamicStructuredTool`, an MCP adapter's tools) has it.
 *
 * @since 0.3.0
 * @category models
 */
export interface GuardableTool {
  readonly name: string
  readonly schema?: unknown
  readonly invoke: (input: any, config?: any) => Promise<unknown>
}

type StructuredToolInterface = GuardableTool

interface Call {
  readonly id: string | undefined
  readonly name: string
  readonly args: unknown
}

type Issue = { readonly path: ReadonlyArray<string | number>; readonly message: string }

/** the issues of a zod schema (`safeParse`) */
const zodIssues = (schema: { safeParse: (u: unknown) => any }) => (u: unknown): ReadonlyArray<Issue> => {
  const result = schema.safeParse(u)
  if (result.success) return []
  return (result.error.issues as ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>).map((i) => ({
    path: i.path.filter((p): p is string | number => typeof p !== "symbol"),
    message: i.message
  }))
}

/** keywords whose error only says that a nested one failed (the nested one is reported) */
const aggregateKeywords = new Set(["properties", "items", "prefixItems", "allOf", "$ref", "additionalItems"])

const pathOf = (instanceLocation: string): Array<string> =>
  instanceLocation.split("/").slice(1).map((p) => decodeURIComponent(p.replace(/~1/g, "/").replace(/~0/g, "~")))

/** the issues of a JSON schema (an MCP tool's `inputSchema`), checked by LangChain's own validator */
const jsonSchemaIssues = (schema: object) => {
  const validator = new Validator(schema as any, "7", false)
  return (u: unknown): ReadonlyArray<Issue> => {
    const result = validator.validate(u)
    if (result.valid) return []
    return result.errors.filter((e) => !aggregateKeywords.has(e.keyword)).map((e) => {
      const missing = e.keyword === "required" ? /property "(.+)"/.exec(e.error)?.[1] : undefined
      return missing === undefined
        ? { path: pathOf(e.instanceLocation), message: e.error }
        : { path: [...pathOf(e.instanceLocation), missing], message: "is missing" }
    })
  }
}

const isJsonSchema = (u: unknown): u is object =>
  typeof u === "object" && u !== null &&
  ("type" in u || "properties" in u || "anyOf" in u || "oneOf" in u || "$ref" in u)

/**
 * The tool's own schema — zod (`safeParse`) or a JSON schema — as an Effect
 * Schema whose issues name the fields; a tool without one takes anything.
 */
const argsSchema = (tool: StructuredToolInterface): Schema.Schema<any, any> => {
  const schema = tool.schema as { safeParse?: unknown } | undefined
  const issuesOf = typeof schema?.safeParse === "function"
    ? zodIssues(schema as { safeParse: (u: unknown) => any })
    : isJsonSchema(schema)
    ? jsonSchemaIssues(schema)
    : undefined
  if (issuesOf === undefined) return Schema.Unknown
  return Schema.Unknown.pipe(Schema.filter((u) => {
    const issues = issuesOf(u)
    return issues.length === 0 ? true : issues
  }))
}

const OptionsSchema = Schema.Struct({
  permissions: Schema.optional(Schema.Record({ key: Schema.String, value: PermissionSchema })),
  maxCallsPerRun: Schema.optional(Limit),
  repeats: Schema.optional(Schema.Struct({ max: Limit })),
  repair: Schema.optional(Schema.Boolean),
  name: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  messagesKey: Schema.optional(Schema.String.pipe(Schema.minLength(1)))
})

const ToolsSchema = Schema.Array(
  Schema.Struct({
    name: Schema.String.pipe(Schema.minLength(1)),
    invoke: Schema.declare((u): u is GuardableTool["invoke"] => typeof u === "function", {
      message: () => "Expected a function (a LangChain tool's invoke)"
    })
  })
)

const decodeOptions = Schema.decodeUnknownEither(OptionsSchema, { errors: "all", onExcessProperty: "error" })
const decodeTools = Schema.decodeUnknownEither(ToolsSchema, { errors: "all" })

/** throws the ParseError naming a bad option or tool (`undefined` options are defaults) */
const checkOptions = (tools: unknown, options: GuardedToolNodeOptions): void => {
  const defined = Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined))
  const decodedTools = decodeTools(tools)
  if (Either.isLeft(decodedTools)) throw decodedTools.left
  const decoded = decodeOptions(defined)
  if (Either.isLeft(decoded)) throw decoded.left
  const names = (tools as ReadonlyArray<GuardableTool>).map((t) => t.name)
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice !== undefined) throw new Error(`guardedToolNode: two tools are named "${twice}"`)
}

/** the explicit permission, else the MCP annotations, else allow */
const permissionOf = (tool: StructuredToolInterface, options: GuardedToolNodeOptions): ToolGuard.Permission => {
  const explicit = options.permissions?.[tool.name]
  if (explicit !== undefined) return explicit
  const annotations =
    ((tool as { metadata?: unknown }).metadata as { annotations?: Record<string, unknown> } | undefined)?.annotations
  if (annotations?.["readOnlyHint"] === true) return "allow"
  if (annotations?.["destructiveHint"] === true) return "ask"
  return "allow"
}

const lastAIMessage = (state: unknown, key: string): AIMessage | undefined => {
  const messages = Array.isArray(state) ? state : (state as Record<string, unknown> | undefined)?.[key]
  if (!Array.isArray(messages)) return undefined
  const last = messages[messages.length - 1]
  return last !== undefined && isAIMessage(last) ? last : undefined
}

const callsOf = (message: AIMessage): ReadonlyArray<Call> => [
  ...(message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.name, args: c.args })),
  ...(message.invalid_tool_calls ?? []).map((c) => ({ id: c.id, name: c.name ?? "", args: c.args ?? "" }))
]

const errorMessage = (call: Call, content: string): ToolMessage =>
  new ToolMessage({ status: "error", tool_call_id: call.id ?? "", name: call.name, content })

/** what the model reads when a call was refused or failed */
const explain = (call: Call, error: unknown): string => {
  // ToolGuard's refusals are written for the model already: word for word
  if (isToolCallError(error)) return error.message
  if (isBreakerRefusal(error)) {
    return `Error: the tool "${call.name}" is unavailable right now (it failed repeatedly). Do not call it again for now; try another way.`
  }
  // a tool's own failure, worded as ToolNode words it
  return `Error: ${messageOf(error)}\n Please fix your mistakes.`
}

/**
 * A node, drop-in for `ToolNode`: same inputs, same `ToolMessage`s on
 * success, `Command`s from tools passed on, `GraphInterrupt` passed through.
 * Refusals are `ToolMessage { status: "error" }` the model can act on.
 *
 * @since 0.3.0
 * @category constructors
 */
export const guardedToolNode = <R>(
  bridge: LangGraphBridge.Bridge<R>,
  tools: ReadonlyArray<StructuredToolInterface>,
  options: GuardedToolNodeOptions = {}
): (state: unknown, config?: LangGraphRunnableConfig) => Promise<unknown> => {
  // bad options fail here, when the graph is built, with a ParseError naming the option
  checkOptions(tools, options)
  const byName = new Map(tools.map((t) => [t.name, t]))
  const key = options.messagesKey ?? "messages"
  const permissions = new Map(tools.map((t) => [t.name, permissionOf(t, options)]))
  const guard = bridge.run(ToolGuard.make({
    name: options.name,
    tools: Object.fromEntries(tools.map((t) => [t.name, { args: argsSchema(t), permission: permissions.get(t.name) }])),
    maxCallsPerRun: options.maxCallsPerRun,
    repeats: options.repeats,
    repair: options.repair,
    approve: (call) =>
      Effect.map(FiberRef.get(currentDecisions), (d) => d.get(call.id ?? "") ?? { reject: "no decision was given" })
  }))
  // an unhandled rejection must not escape before the first call
  guard.catch(() => undefined)
  const runNow = runNowOf(bridge)

  const runOne = (g: ToolGuard.ToolGuard, call: Call, config: LangGraphRunnableConfig) =>
    g.run(call, (args) =>
      Effect.tryPromise({
        try: () => byName.get(call.name)!.invoke({ ...call, args, id: call.id, type: "tool_call" } as any, config),
        catch: (e) => e
      })).pipe(
        Effect.map((output): unknown =>
          isCommand(output) || output instanceof ToolMessage
            ? output
            : new ToolMessage({ tool_call_id: call.id ?? "", name: call.name, content: stringify(output) })
        ),
        Effect.catchAll((error) => {
          // LangGraph control flow (interrupt(), a parent Command) passes through; the check is total on hostile values
          if (CircuitBreaker.isControlFlow(error)) return Effect.die(error)
          return Effect.succeed(errorMessage(call, explain(call, error)))
        })
      )

  return async (state, config = {}) => {
    const g = await guard
    const message = lastAIMessage(state, key)
    if (message === undefined) throw new Error(`guardedToolNode: the last message in "${key}" is not an AIMessage`)
    const calls = callsOf(message)
    const node = Effect.gen(function*() {
      // every approval first (an interrupt replays the node: nothing may run before the last one is answered)
      const asked = new Map<string, ToolGuard.ToolDecision>()
      for (const call of calls) {
        if (permissions.get(call.name) !== "ask") continue
        const request: ToolApprovalRequest = {
          type: "agentarmour/tool-approval",
          tool: call.name,
          args: call.args,
          callId: call.id
        }
        asked.set(call.id ?? "", yield* LangGraphBridge.interrupt<ToolGuard.ToolDecision>(request))
      }
      const outputs: Array<unknown> = []
      for (const call of calls) outputs.push(yield* Effect.locally(runOne(g, call, config), currentDecisions, asked))
      return outputs
    })
    const spanned = Span.withNodeSpan(
      node,
      { [Span.SPAN_NODE]: LG.nodeName(config, options.name ?? "tools") },
      (outputs) => ({
        [Span.SPAN_TOOL_CALLS]: outputs.length,
        [Span.SPAN_TOOL_REFUSALS]: outputs.filter(isErrorMessage).length
      })
    )
    const result = runNow(spanned, config)
    const outputs = result instanceof Promise ? await result : result
    if (outputs.some(isCommand)) {
      return outputs.map((o) => isCommand(o) ? o : Array.isArray(state) ? [o] : { [key]: [o] })
    }
    return Array.isArray(state) ? outputs : { [key]: outputs }
  }
}

const isErrorMessage = (u: unknown): boolean => u instanceof ToolMessage && u.status === "error"

/** a tool's output as ToolNode sends it: a string as is, anything else as JSON */
const stringify = (u: unknown): string => {
  if (typeof u === "string") return u
  try {
    return JSON.stringify(u) ?? describe(u)
  } catch {
    return describe(u)
  }
}

/**
 * Like `toolsCondition`: `"tools"` when the last AI message has tool calls
 * — valid or not (`invalid_tool_calls` too) — else `END`.
 *
 * @since 0.3.0
 * @category routing
 */
export const routeToolCalls = (state: unknown): "tools" | typeof END => {
  const message = lastAIMessage(state, "messages")
  if (message === undefined) return END
  return (message.tool_calls?.length ?? 0) + (message.invalid_tool_calls?.length ?? 0) > 0 ? "tools" : END
}
