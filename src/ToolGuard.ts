/**
 * ToolGuard: checks the tool calls a model proposes before they run —
 * unknown tools, malformed or invalid arguments, repeats, per-run caps,
 * permissions, a circuit breaker per tool — and refuses each bad call with
 * a typed error whose message the model can act on. Every decision is
 * recorded in the ledger (`cb_tool_calls`) and the metric
 * `agentarmour_tool_calls_total{tool,outcome}`.
 *
 * This module knows no LangChain type; the LangGraph adapter is
 * `guardedToolNode` in `agentarmour/langgraph`.
 *
 * @since 0.3.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

import type { BreakerOptions } from "./BreakerConfig.js"
import { currentRun } from "./CascadeGuard.js"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as Describe from "./internal/describe.js"
import { canonical } from "./internal/toolGuard/canonical.js"
import {
  InvalidToolArgsError,
  InvalidToolResultError,
  isBreakerRefusal,
  MalformedToolCallError,
  RepeatedToolCallError,
  type ToolCallError,
  ToolCallLimitError,
  ToolPermissionError,
  UnknownToolError
} from "./internal/toolGuard/errors.js"
import { Limit, PermissionSchema } from "./internal/toolGuard/options.js"
import { parseArgs } from "./internal/toolGuard/repair.js"
import { nearest } from "./internal/toolGuard/suggest.js"
import * as Ledger from "./Ledger.js"
import * as Telemetry from "./Telemetry.js"

export {
  /**
   * The arguments do not match the tool's schema.
   *
   * @since 0.3.0
   */
  InvalidToolArgsError,
  /**
   * The tool returned something its `result` schema refuses.
   *
   * @since 0.3.0
   */
  InvalidToolResultError,
  /**
   * The arguments are not valid JSON, even after repair.
   *
   * @since 0.3.0
   */
  MalformedToolCallError,
  /**
   * The same call was made too many times in this run.
   *
   * @since 0.3.0
   */
  RepeatedToolCallError,
  /**
   * A per-run cap is reached.
   *
   * @since 0.3.0
   */
  ToolCallLimitError,
  /**
   * The call is denied, or a reviewer rejected it.
   *
   * @since 0.3.0
   */
  ToolPermissionError,
  /**
   * The model called a tool that does not exist.
   *
   * @since 0.3.0
   */
  UnknownToolError
}
export type {
  /**
   * Any refusal of ToolGuard.
   *
   * @since 0.3.0
   */
  ToolCallError
}

/**
 * What a tool may do without asking: `allow` runs it, `ask` asks `approve`
 * (in LangGraph: pauses the graph), `deny` refuses it.
 *
 * @since 0.3.0
 * @category models
 */
export type Permission = "allow" | "ask" | "deny"

/**
 * A reviewer's answer to an `ask`: run the call, run it with other
 * arguments (checked again), or refuse it with a reason the model reads.
 *
 * @since 0.3.0
 * @category models
 */
export type ToolDecision = { readonly approve: true } | { readonly edit: unknown } | { readonly reject: string }

/**
 * One tool of a guard.
 *
 * @since 0.3.0
 * @category models
 */
export interface ToolSpec<A = any, I = any, R = any, RI = any> {
  /** what the tool accepts */
  readonly args: Schema.Schema<A, I>
  /** what it may return to the model */
  readonly result?: Schema.Schema<R, RI> | undefined
  /** default `"allow"` */
  readonly permission?: Permission | undefined
  readonly maxCallsPerRun?: number | undefined
  /** the tool's breaker (named `tool:<name>` unless `name` is given); default options otherwise */
  readonly breaker?: Partial<BreakerOptions> | undefined
}

/**
 * A call a model proposed: `args` may be an object or a JSON string.
 *
 * @since 0.3.0
 * @category models
 */
export interface ToolCall {
  readonly id?: string | undefined
  readonly name: string
  readonly args: unknown
}

/**
 * A call that passed every check: its arguments decoded.
 *
 * @since 0.3.0
 * @category models
 */
export interface CheckedCall {
  readonly id: string | null
  readonly name: string
  readonly args: unknown
  /** the arguments were malformed JSON that ToolGuard repaired */
  readonly repaired: boolean
  /** a reviewer approved the call (permission `ask`) */
  readonly approved: boolean
}

/**
 * The options of `make`.
 *
 * @since 0.3.0
 * @category models
 */
export interface ToolGuardOptions {
  /** the ledger and metrics name; default `"tools"` */
  readonly name?: string | undefined
  readonly tools: Readonly<Record<string, ToolSpec>>
  /** all tools together, per run */
  readonly maxCallsPerRun?: number | undefined
  /** identical calls (name and canonical arguments) allowed per run; default 3 */
  readonly repeats?: { readonly max: number } | undefined
  /** repair malformed JSON before refusing; default true */
  readonly repair?: boolean | undefined
  /** decides the calls of `ask` tools; without it they are refused */
  readonly approve?: ((call: CheckedCall) => Effect.Effect<ToolDecision>) | undefined
}

/**
 * A guard over a set of tools.
 *
 * @since 0.3.0
 * @category models
 */
export interface ToolGuard {
  readonly name: string
  /** the tools' names, in the order given */
  readonly tools: ReadonlyArray<string>
  /** checks a call (and asks `approve` for an `ask` tool); records a refusal */
  readonly check: (call: ToolCall) => Effect.Effect<CheckedCall, ToolCallError>
  /** checks the call, runs it through the tool's breaker, checks the result, records the outcome */
  readonly run: <R, E, Env>(
    call: ToolCall,
    execute: (args: any) => Effect.Effect<R, E, Env>
  ) => Effect.Effect<R, ToolCallError | CircuitBreaker.BreakerError | E, Env>
  /** the breaker of a tool (`tool:<name>`) */
  readonly breaker: (tool: string) => CircuitBreaker.CircuitBreaker | undefined
}

const isSchema = Schema.declare((u): u is Schema.Schema<any, any> => Schema.isSchema(u), {
  identifier: "Schema",
  message: () => "Expected a Schema (from effect/Schema)"
})

const Fn = Schema.declare((u): u is (...args: ReadonlyArray<any>) => any => typeof u === "function", {
  identifier: "Function",
  message: () => "Expected a function"
})

const ToolSpecSchema = Schema.Struct({
  args: isSchema,
  result: Schema.optional(isSchema),
  permission: Schema.optional(PermissionSchema),
  maxCallsPerRun: Schema.optional(Limit),
  breaker: Schema.optional(Schema.Object)
})

const OptionsSchema = Schema.Struct({
  name: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  tools: Schema.Record({ key: Schema.String.pipe(Schema.minLength(1)), value: ToolSpecSchema }),
  maxCallsPerRun: Schema.optional(Limit),
  repeats: Schema.optional(Schema.Struct({ max: Limit })),
  repair: Schema.optional(Schema.Boolean),
  approve: Schema.optional(Fn)
})

const decodeOptions = Schema.decodeUnknown(OptionsSchema, { errors: "all", onExcessProperty: "error" })

/**
 * The issues of a parse error, one line per field.
 *
 * @since 0.3.0
 * @category utils
 */
export const formatIssues = (error: ParseResult.ParseError): ReadonlyArray<string> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
    issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`
  )

interface RunCounts {
  total: number
  readonly perTool: Map<string, number>
  readonly repeats: Map<string, number>
}

/** how many runs' counts are kept (oldest forgotten first) */
const maxRuns = 1000

interface Tool {
  readonly name: string
  readonly decode: (u: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly validateResult: ((u: unknown) => Either.Either<unknown, ParseResult.ParseError>) | undefined
  readonly permission: Permission
  readonly maxCallsPerRun: number | undefined
  readonly breaker: CircuitBreaker.CircuitBreaker
}

/**
 * Builds a guard. Bad options fail with a `ParseError` naming the option.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  options: ToolGuardOptions
): Effect.Effect<ToolGuard, ParseResult.ParseError, Ledger.Ledger> =>
  Effect.gen(function*() {
    const decoded = yield* decodeOptions(options)
    const ledger = yield* Ledger.Ledger
    const name = decoded.name ?? "tools"
    const tools = new Map<string, Tool>()
    for (const [toolName, spec] of Object.entries(decoded.tools)) {
      const breaker = yield* CircuitBreaker.make({
        ...(spec.breaker as Partial<BreakerOptions> | undefined),
        name: (spec.breaker as Partial<BreakerOptions> | undefined)?.name ?? `tool:${toolName}`
      })
      tools.set(toolName, {
        name: toolName,
        decode: Schema.decodeUnknownEither(spec.args, { errors: "all" }),
        validateResult: spec.result === undefined ? undefined : Schema.validateEither(spec.result, { errors: "all" }),
        permission: spec.permission ?? "allow",
        maxCallsPerRun: spec.maxCallsPerRun,
        breaker
      })
    }
    return makeGuard({
      name,
      tools,
      ledger,
      maxCallsPerRun: decoded.maxCallsPerRun,
      maxRepeats: decoded.repeats?.max ?? 3,
      repair: decoded.repair ?? true,
      approve: decoded.approve as ToolGuardOptions["approve"]
    })
  })

interface GuardConfig {
  readonly name: string
  readonly tools: Map<string, Tool>
  readonly ledger: Ledger.Ledger
  readonly maxCallsPerRun: number | undefined
  readonly maxRepeats: number
  readonly repair: boolean
  readonly approve: ToolGuardOptions["approve"]
}

const makeGuard = (config: GuardConfig): ToolGuard => {
  const runs = new Map<string, RunCounts>()
  const names = Array.from(config.tools.keys())

  const countsOf = (runId: string): RunCounts => {
    let counts = runs.get(runId)
    if (counts === undefined) {
      counts = { total: 0, perTool: new Map(), repeats: new Map() }
      runs.set(runId, counts)
      if (runs.size > maxRuns) runs.delete(runs.keys().next().value!)
    }
    return counts
  }

  const record = (
    runId: string,
    call: ToolCall,
    outcome: Ledger.ToolCallOutcome,
    detail: string | null
  ): Effect.Effect<void> =>
    // one step for the clock (every decision is recorded)
    Effect.clockWith((clock) =>
      Effect.zipRight(
        config.ledger.recordToolCall(
          new Ledger.ToolCallRecord({
            runId: runId === "default" ? null : runId,
            node: config.name,
            tool: call.name,
            callId: call.id ?? null,
            outcome,
            detail,
            createdAt: new Date(clock.unsafeCurrentTimeMillis())
          }, true)
        ),
        Telemetry.countToolCall(call.name, outcome)
      )
    )

  const refuse = (runId: string, call: ToolCall, error: ToolCallError): Effect.Effect<never, ToolCallError> =>
    Effect.zipRight(record(runId, call, outcomeOf(error), error.message), Effect.fail(error))

  const validate = (
    tool: Tool,
    call: ToolCall,
    args: unknown
  ): Either.Either<{ args: unknown; repaired: boolean }, ToolCallError> => {
    let value = args
    let repaired = false
    if (typeof args === "string") {
      const parsed = parseArgs(args, config.repair)
      if (parsed._tag === "Unparsable") {
        return Either.left(new MalformedToolCallError({ tool: call.name, raw: args, error: parsed.error }))
      }
      value = parsed.value
      repaired = parsed.repaired
    }
    const decodedArgs = tool.decode(value)
    if (Either.isLeft(decodedArgs)) {
      return Either.left(new InvalidToolArgsError({ tool: call.name, issues: formatIssues(decodedArgs.left) }))
    }
    return Either.right({ args: decodedArgs.right, repaired })
  }

  const admit = (tool: Tool, call: ToolCall, runId: string, args: unknown): ToolCallError | undefined => {
    const counts = countsOf(runId)
    if (config.maxCallsPerRun !== undefined && counts.total >= config.maxCallsPerRun) {
      return new ToolCallLimitError({ tool: call.name, limit: config.maxCallsPerRun, scope: "run" })
    }
    const toolCount = counts.perTool.get(tool.name) ?? 0
    if (tool.maxCallsPerRun !== undefined && toolCount >= tool.maxCallsPerRun) {
      return new ToolCallLimitError({ tool: call.name, limit: tool.maxCallsPerRun, scope: "tool" })
    }
    const key = repeatKey(tool, args)
    const seen = (counts.repeats.get(key) ?? 0) + 1
    if (seen > config.maxRepeats) return new RepeatedToolCallError({ tool: call.name, count: seen })
    counts.repeats.set(key, seen)
    counts.perTool.set(tool.name, toolCount + 1)
    counts.total++
    return undefined
  }

  /** takes back what `admit` counted: the call paused the graph (LangGraph control flow) and will come again */
  const readmit = (tool: Tool, runId: string, args: unknown): void => {
    const counts = runs.get(runId)
    if (counts === undefined) return
    const key = repeatKey(tool, args)
    const seen = counts.repeats.get(key) ?? 0
    if (seen <= 1) counts.repeats.delete(key)
    else counts.repeats.set(key, seen - 1)
    counts.perTool.set(tool.name, Math.max(0, (counts.perTool.get(tool.name) ?? 0) - 1))
    counts.total = Math.max(0, counts.total - 1)
  }

  const checkIn = (call: ToolCall, runId: string): Effect.Effect<CheckedCall, ToolCallError> =>
    Effect.suspend(() => {
      const tool = config.tools.get(call.name)
      if (tool === undefined) {
        return refuse(
          runId,
          call,
          new UnknownToolError({ tool: call.name, available: names, suggestion: nearest(call.name, names) })
        )
      }
      if (tool.permission === "deny") {
        return refuse(
          runId,
          call,
          new ToolPermissionError({ tool: call.name, decision: "denied", reason: "this tool is not permitted" })
        )
      }
      const valid = validate(tool, call, call.args)
      if (Either.isLeft(valid)) return refuse(runId, call, valid.left)
      const checked: CheckedCall = {
        id: call.id ?? null,
        name: call.name,
        args: valid.right.args,
        repaired: valid.right.repaired,
        approved: false
      }
      if (tool.permission === "ask") return askThenAdmit(tool, call, runId, checked)
      const refused = admit(tool, call, runId, checked.args)
      return refused === undefined ? Effect.succeed(checked) : refuse(runId, call, refused)
    })

  const askThenAdmit = (
    tool: Tool,
    call: ToolCall,
    runId: string,
    checked: CheckedCall
  ): Effect.Effect<CheckedCall, ToolCallError> => {
    if (config.approve === undefined) {
      return refuse(
        runId,
        call,
        new ToolPermissionError({
          tool: call.name,
          decision: "denied",
          reason: "it needs approval and no one can approve it"
        })
      )
    }
    return Effect.flatMap(config.approve(checked), (answer) => {
      const decision = decisionOf(answer)
      if (decision === undefined) {
        return refuse(
          runId,
          call,
          new ToolPermissionError({
            tool: call.name,
            decision: "rejected",
            reason:
              `the reviewer's answer is not a decision ({ approve: true }, { edit: arguments } or { reject: reason })`
          })
        )
      }
      if ("reject" in decision) {
        return refuse(
          runId,
          call,
          new ToolPermissionError({ tool: call.name, decision: "rejected", reason: decision.reject })
        )
      }
      let approved = checked
      if ("edit" in decision) {
        const valid = validate(tool, call, decision.edit)
        if (Either.isLeft(valid)) return refuse(runId, call, valid.left)
        approved = { ...checked, args: valid.right.args, repaired: valid.right.repaired }
      }
      const refused = admit(tool, call, runId, approved.args)
      return refused === undefined ? Effect.succeed({ ...approved, approved: true }) : refuse(runId, call, refused)
    })
  }

  const check = (call: ToolCall): Effect.Effect<CheckedCall, ToolCallError> =>
    Effect.withFiberRuntime((fiber) => checkIn(call, fiber.getFiberRef(currentRun)))

  const run = <R, E, Env>(
    call: ToolCall,
    execute: (args: any) => Effect.Effect<R, E, Env>
  ): Effect.Effect<R, ToolCallError | CircuitBreaker.BreakerError | E, Env> =>
    Effect.withFiberRuntime((fiber) => {
      const runId = fiber.getFiberRef(currentRun)
      return Effect.flatMap(checkIn(call, runId), (checked) => {
        const tool = config.tools.get(call.name)!
        return tool.breaker.execute(execute(checked.args)).pipe(
          Effect.matchCauseEffect({
            onFailure: (cause) => {
              // the tool paused the graph (`interrupt()`): not a decision yet; the resumed call is counted once
              if (isControlFlowCause(cause)) {
                return Effect.zipRight(Effect.sync(() => readmit(tool, runId, checked.args)), Effect.failCause(cause))
              }
              const error = Option.getOrUndefined(Cause.failureOption(cause))
              const outcome: Ledger.ToolCallOutcome = isBreakerRefusal(error) ? "open" : "failed"
              return Effect.zipRight(
                record(runId, call, outcome, describeFailure(error, cause)),
                Effect.failCause(cause)
              )
            },
            onSuccess: (result) => {
              if (tool.validateResult !== undefined) {
                const valid = tool.validateResult(result)
                if (Either.isLeft(valid)) {
                  return refuse(
                    runId,
                    call,
                    new InvalidToolResultError({ tool: call.name, issues: formatIssues(valid.left) })
                  )
                }
              }
              const outcome = checked.approved ? "approved" : checked.repaired ? "repaired" : "ok"
              return Effect.as(record(runId, call, outcome, null), result)
            }
          })
        )
      })
    })

  return {
    name: config.name,
    tools: names,
    check,
    run,
    breaker: (tool) => config.tools.get(tool)?.breaker
  }
}

const repeatKey = (tool: Tool, args: unknown): string => `${tool.name}\u0000${canonical(args)}`

const isControlFlowCause = (cause: Cause.Cause<unknown>): boolean =>
  !Cause.isInterruptedOnly(cause) && CircuitBreaker.isControlFlow(Cause.squash(cause))

/** a reviewer's answer, if it is a decision (anything else — `{ approve: false }`, "yes" — is not) */
const decisionOf = (answer: unknown): ToolDecision | undefined => {
  if (typeof answer !== "object" || answer === null) return undefined
  try {
    const a = answer as { readonly approve?: unknown; readonly edit?: unknown; readonly reject?: unknown }
    if ("reject" in a) return typeof a.reject === "string" ? { reject: a.reject } : undefined
    if ("edit" in a) return { edit: a.edit }
    return a.approve === true ? { approve: true } : undefined
  } catch {
    return undefined
  }
}

/** why a call failed, for the ledger: the failure described (total: hostile values too), or the defect's */
const describeFailure = (error: unknown, cause: Cause.Cause<unknown>): string =>
  error !== undefined
    ? Describe.describe(error)
    : Cause.isInterruptedOnly(cause)
    ? "interrupted"
    : Describe.describeCause(cause)

/**
 * The ledger outcome of a refusal.
 *
 * @since 0.3.0
 * @category utils
 */
export const outcomeOf = (error: ToolCallError): Ledger.ToolCallOutcome => {
  switch (error._tag) {
    case "UnknownToolError":
      return "unknown_tool"
    case "InvalidToolArgsError":
      return "invalid_args"
    case "MalformedToolCallError":
      return "malformed"
    case "RepeatedToolCallError":
      return "repeated"
    case "ToolCallLimitError":
      return "limit"
    case "ToolPermissionError":
      return error.decision
    case "InvalidToolResultError":
      return "invalid_result"
  }
}
