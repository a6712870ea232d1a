/**
 * `AgentMock.expectTrajectory(messages, expected)`: the tool calls an agent
 * made, checked against the calls expected, as agentevals' match modes do.
 *
 * @since 0.3.0
 */
import { AIMessage, AIMessageChunk, type BaseMessage } from "@langchain/core/messages"
import * as Schema from "effect/Schema"

import { canonical } from "./internal/json.js"

/**
 * - `strict`: the same calls in the same order (default)
 * - `unordered`: the same calls, any order
 * - `subset`: every call made is expected (nothing else was called)
 * - `superset`: every expected call was made (others may have been too)
 *
 * @since 0.3.0
 * @category models
 */
export type TrajectoryMode = "strict" | "unordered" | "subset" | "superset"

/**
 * How arguments are compared: `exact` (default), `ignore`, or `subset`
 * (the expected arguments appear in the call's, deeply).
 *
 * @since 0.3.0
 * @category models
 */
export type ArgsMatch = "exact" | "ignore" | "subset"

/**
 * A tool call expected; without `args`, any arguments.
 *
 * @since 0.3.0
 * @category models
 */
export interface ExpectedCall {
  readonly tool: string
  readonly args?: object
}

/**
 * The trajectory did not match: `diff` shows the expected and actual calls.
 *
 * @since 0.3.0
 * @category errors
 */
export class TrajectoryMismatchError extends Schema.TaggedError<TrajectoryMismatchError>()(
  "TrajectoryMismatchError",
  {
    mode: Schema.String,
    args: Schema.String,
    expected: Schema.Array(Schema.Unknown),
    actual: Schema.Array(Schema.Unknown),
    diff: Schema.String
  }
) {
  override get message(): string {
    return `the tool calls do not match (mode ${this.mode}, args ${this.args}):\n${this.diff}`
  }
}

interface ActualCall {
  readonly tool: string
  readonly args: unknown
}

/** the tool calls of the AI messages, in order (invalid calls with their raw text as args) */
const callsOf = (messages: ReadonlyArray<BaseMessage>): Array<ActualCall> => {
  const out: Array<ActualCall> = []
  for (const m of messages) {
    if (!AIMessage.isInstance(m) && !AIMessageChunk.isInstance(m)) continue
    for (const c of m.tool_calls ?? []) out.push({ tool: c.name, args: c.args })
    for (const c of m.invalid_tool_calls ?? []) out.push({ tool: c.name ?? "", args: c.args })
  }
  return out
}

const isSubset = (expected: unknown, actual: unknown): boolean => {
  if (typeof expected !== "object" || expected === null) return canonical(expected) === canonical(actual)
  if (typeof actual !== "object" || actual === null) return false
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && expected.length === actual.length &&
      expected.every((e, i) => isSubset(e, actual[i]))
  }
  return Object.entries(expected).every(([k, v]) => isSubset(v, (actual as Record<string, unknown>)[k]))
}

const matches = (expected: ExpectedCall, actual: ActualCall, args: ArgsMatch): boolean => {
  if (expected.tool !== actual.tool) return false
  if (args === "ignore" || expected.args === undefined) return true
  return args === "exact" ? canonical(expected.args) === canonical(actual.args) : isSubset(expected.args, actual.args)
}

/** a maximum matching of expected to actual calls (augmenting paths; trajectories are short) */
const match = (expected: ReadonlyArray<ExpectedCall>, actual: ReadonlyArray<ActualCall>, args: ArgsMatch) => {
  const ofActual = new Array<number>(actual.length).fill(-1)
  const tryAssign = (e: number, seen: Set<number>): boolean => {
    for (let a = 0; a < actual.length; a++) {
      if (seen.has(a) || !matches(expected[e]!, actual[a]!, args)) continue
      seen.add(a)
      if (ofActual[a] === -1 || tryAssign(ofActual[a]!, seen)) {
        ofActual[a] = e
        return true
      }
    }
    return false
  }
  const matchedExpected = new Set<number>()
  for (let e = 0; e < expected.length; e++) if (tryAssign(e, new Set())) matchedExpected.add(e)
  return { matchedExpected, matchedActual: new Set(ofActual.flatMap((e, a) => (e === -1 ? [] : [a]))) }
}

const line = (c: { readonly tool: string; readonly args?: unknown }) =>
  c.args === undefined ? c.tool : `${c.tool}(${canonical(c.args)})`

const strictDiff = (expected: ReadonlyArray<ExpectedCall>, actual: ReadonlyArray<ActualCall>, args: ArgsMatch) => {
  const lines: Array<string> = []
  let ok = expected.length === actual.length
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const e = expected[i]
    const a = actual[i]
    if (e !== undefined && a !== undefined && matches(e, a, args)) lines.push(`  ${i + 1}. ${line(a)}`)
    else {
      ok = false
      if (e !== undefined) lines.push(`- ${i + 1}. ${line(e)}`)
      if (a !== undefined) lines.push(`+ ${i + 1}. ${line(a)}`)
    }
  }
  return { ok, lines }
}

const setDiff = (
  expected: ReadonlyArray<ExpectedCall>,
  actual: ReadonlyArray<ActualCall>,
  args: ArgsMatch,
  mode: Exclude<TrajectoryMode, "strict">
) => {
  const { matchedActual, matchedExpected } = match(expected, actual, args)
  const missing = expected.filter((_, i) => !matchedExpected.has(i))
  const extra = actual.filter((_, i) => !matchedActual.has(i))
  const ok = (mode === "subset" || missing.length === 0) && (mode === "superset" || extra.length === 0)
  const lines = [
    ...actual.filter((_, i) => matchedActual.has(i)).map((c) => `  ${line(c)}`),
    ...(mode === "subset" ? [] : missing.map((c) => `- ${line(c)}   (expected, not called)`)),
    ...(mode === "superset" ? [] : extra.map((c) => `+ ${line(c)}   (called, not expected)`))
  ]
  return { ok, lines }
}

/**
 * Checks the tool calls in `messages` against `expected`; throws
 * `TrajectoryMismatchError` with a diff (`-` expected, `+` actual) when they
 * do not match.
 *
 * @since 0.3.0
 * @category assertions
 */
export const expectTrajectory = (
  messages: ReadonlyArray<BaseMessage>,
  expected: ReadonlyArray<ExpectedCall>,
  options?: { readonly mode?: TrajectoryMode; readonly args?: ArgsMatch }
): void => {
  const mode = options?.mode ?? "strict"
  const args = options?.args ?? "exact"
  if (!["strict", "unordered", "subset", "superset"].includes(mode)) {
    throw new TypeError(`expectTrajectory: mode must be strict, unordered, subset or superset, got ${String(mode)}`)
  }
  if (!["exact", "ignore", "subset"].includes(args)) {
    throw new TypeError(`expectTrajectory: args must be exact, ignore or subset, got ${String(args)}`)
  }
  const actual = callsOf(messages)
  const { lines, ok } = mode === "strict" ? strictDiff(expected, actual, args) : setDiff(expected, actual, args, mode)
  if (ok) return
  throw new TrajectoryMismatchError({
    mode,
    args,
    expected: expected.map((c) => ({ ...c })),
    actual,
    diff: lines.length === 0 ? "  (no calls)" : lines.join("\n")
  })
}
