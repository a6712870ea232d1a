/**
 * Everything `protectNode` knows about LangGraph's own objects, in one file:
 * the node's name, subgraphs, `Command` updates, custom events, and the
 * task scratchpad that lets an escalation by `interrupt()` survive resume.
 *
 * The scratchpad keys mirror `@langchain/langgraph` `src/constants.ts`
 * (`CONFIG_KEY_SCRATCHPAD`, `CONFIG_KEY_SEND`, `CONFIG_KEY_CHECKPOINTER`) and
 * `src/interrupt.ts` (`interrupt()` reads `scratchpad.resume` by
 * `interruptCounter`); `test/LangGraph.test.ts` exercises them against the
 * real library, and `scripts/test-langgraph-min.sh` against the lowest
 * supported version.
 *
 * @internal
 */
import { dispatchCustomEvent } from "@langchain/core/callbacks/dispatch"
import type { LangGraphRunnableConfig } from "@langchain/langgraph"
import { Command, interrupt as lgInterrupt, isCommand } from "@langchain/langgraph"

/** the graph node's name when LangGraph gives it, else `fallback` (the breaker's name) */
export const nodeName = (config: LangGraphRunnableConfig | undefined, fallback: string): string => {
  const name = config?.metadata?.["langgraph_node"]
  return typeof name === "string" ? name : fallback
}

/**
 * A compiled graph (or any LangChain runnable) used as a node.
 *
 * @since 0.2.0
 * @category models
 */
export interface Subgraph<U> {
  readonly invoke: (input: any, config?: any) => Promise<U>
}

/** a compiled graph or runnable, as opposed to a node function */
export const isSubgraph = (u: unknown): u is Subgraph<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { invoke?: unknown }).invoke === "function"

/** a `Command` (`new Command({ goto, update, resume })`) */
export const isLangGraphCommand: (u: unknown) => u is Command = isCommand as (u: unknown) => u is Command

/** what a node returned that LangGraph cannot apply as an update: primitives and arrays */
export const isInvalidUpdate = (u: unknown): boolean =>
  u !== undefined && u !== null && (typeof u !== "object" || Array.isArray(u))

/** "a string (\"hi\")", "an array of 3 items", ... for error messages */
export const describeValue = (u: unknown): string => {
  if (Array.isArray(u)) return `an array of ${u.length} item${u.length === 1 ? "" : "s"}`
  switch (typeof u) {
    case "string":
      return `a string (${JSON.stringify(u.length > 60 ? `${u.slice(0, 57)}...` : u)})`
    case "bigint":
      return `a bigint (${u}n)`
    case "symbol":
      return `a symbol (${u.toString()})`
    case "function":
      return `a function (${u.name || "anonymous"})`
    default:
      return `a ${typeof u} (${String(u)})`
  }
}

/**
 * The state keys a node's result writes: the object itself, or a `Command`'s
 * `update` (an object or a list of `[key, value]` pairs).
 */
export const updateOf = (u: unknown): Record<string, unknown> | undefined => {
  const update = isLangGraphCommand(u) ? u.update : u
  if (Array.isArray(update)) return Object.fromEntries(update as ReadonlyArray<[string, unknown]>)
  return typeof update === "object" && update !== null ? update as Record<string, unknown> : undefined
}

/** `u` with `keys` removed from the state update (from a `Command`'s `update` for a `Command`) */
export const withoutKeys = (u: unknown, keys: ReadonlyArray<string>): unknown => {
  const drop = (record: Record<string, unknown>) => {
    const clean = { ...record }
    for (const key of keys) delete clean[key]
    return clean
  }
  if (!isLangGraphCommand(u)) return typeof u === "object" && u !== null ? drop(u as Record<string, unknown>) : u
  const update = updateOf(u)
  return rebuild(u, update === undefined ? undefined : drop(update))
}

const rebuild = (command: Command, update: Record<string, unknown> | undefined): Command =>
  new Command({
    ...(command.graph === undefined ? {} : { graph: command.graph }),
    ...(command.goto === undefined ? {} : { goto: command.goto as any }),
    ...(command.resume === undefined ? {} : { resume: command.resume }),
    ...(update === undefined ? {} : { update })
  })

/**
 * `u` with the marker keys added to its state update: a plain update is
 * spread, a `Command` is rebuilt with the markers in its `update` (its
 * `goto`, `graph` and `resume` kept), nothing (`undefined`/`null`) becomes
 * the markers alone.
 */
export const withMarkers = (u: unknown, markers: Record<string, unknown> | undefined): unknown => {
  if (markers === undefined) return u
  if (isLangGraphCommand(u)) {
    const update = u.update
    if (Array.isArray(update)) {
      return new Command({
        ...(u.graph === undefined ? {} : { graph: u.graph }),
        ...(u.goto === undefined ? {} : { goto: u.goto as any }),
        ...(u.resume === undefined ? {} : { resume: u.resume }),
        update: [...update, ...Object.entries(markers)]
      })
    }
    return rebuild(u, { ...(updateOf(u) ?? {}), ...markers })
  }
  return typeof u === "object" && u !== null ? { ...u, ...markers } : markers
}

/**
 * Emits the `agentarmour` custom event to the graph's callbacks
 * (`streamEvents(..., { version: "v2" })` shows it as `on_custom_event`).
 * Outside a graph run there is no parent run to attach it to: nothing is sent.
 */
export const emitEvent = async (config: LangGraphRunnableConfig | undefined, payload: object): Promise<void> => {
  if (config?.callbacks === undefined) return
  try {
    await dispatchCustomEvent("agentarmour", payload, config)
  } catch {
    // an event is observability: a callback handler that throws never fails the node
  }
}

// ---------------------------------------------------------------------------
// escalation by interrupt(), across resume

/** `@langchain/langgraph` `PregelScratchpad` (the members read here) */
interface Scratchpad {
  interruptCounter: number
  readonly resume: Array<unknown>
  readonly nullResume?: unknown
}

const SCRATCHPAD = "__pregel_scratchpad"
const SEND = "__pregel_send"
const CHECKPOINTER = "__pregel_checkpointer"
const RESUME = "__resume__"
const MARKER = "__agentarmour_escalation__"

/** what the paused node left in its task's resume list, so the resumed node knows it escalated */
export interface Escalation {
  readonly [MARKER]: true
  readonly node: string
  readonly breaker: string
  readonly error: string
  readonly traceback: string
}

const scratchpadOf = (config: LangGraphRunnableConfig | undefined): Scratchpad | undefined => {
  const pad = config?.configurable?.[SCRATCHPAD] as Scratchpad | undefined
  return pad !== undefined && Array.isArray(pad.resume) ? pad : undefined
}

const isEscalation = (u: unknown): u is Escalation =>
  typeof u === "object" && u !== null && (u as Record<string, unknown>)[MARKER] === true

/** the escalation this task paused for, if it is being re-executed on resume (the hot path reads one array) */
export const pendingEscalation = (config: LangGraphRunnableConfig | undefined): Escalation | undefined => {
  const resume = scratchpadOf(config)?.resume
  if (resume === undefined || resume.length === 0) return undefined
  // the marker is the last answered slot, or the one before the human's answer (resume by interrupt id)
  const last = resume[resume.length - 1]
  if (isEscalation(last)) return last
  const before = resume[resume.length - 2]
  return isEscalation(before) ? before : undefined
}

/** escalation by interrupt needs a checkpointer to pause; without one the failure stays a failure */
export const canPause = (config: LangGraphRunnableConfig | undefined): boolean =>
  scratchpadOf(config) !== undefined && config?.configurable?.[CHECKPOINTER] !== undefined

/**
 * Pauses the graph for a human: writes the escalation marker into this
 * task's resume list (LangGraph saves a paused task's resume writes with its
 * interrupt), then raises `interrupt(payload)` in the slot after it. Runs in
 * the node's LangGraph call context; throws `GraphInterrupt`.
 */
export const pause = (config: LangGraphRunnableConfig, escalation: Omit<Escalation, typeof MARKER>): never => {
  const pad = scratchpadOf(config)!
  const marker: Escalation = { [MARKER]: true, ...escalation }
  pad.resume.push(marker)
  const send = config.configurable?.[SEND] as ((writes: Array<[string, unknown]>) => void) | undefined
  send?.([[RESUME, pad.resume.slice()]])
  pad.interruptCounter = pad.resume.length - 1
  return lgInterrupt({
    node: escalation.node,
    breaker: escalation.breaker,
    error: escalation.error,
    traceback: escalation.traceback
  }) as never
}

/**
 * On resume: the human's answer, read by LangGraph's own `interrupt()` from
 * the slot after the marker — the failed node is not called again. With no
 * answer yet (the graph was resumed without one) the graph pauses again.
 */
export const answerOf = (config: LangGraphRunnableConfig, escalation: Escalation): unknown => {
  const pad = scratchpadOf(config)!
  pad.interruptCounter = pad.resume.indexOf(escalation)
  return lgInterrupt({
    node: escalation.node,
    breaker: escalation.breaker,
    error: escalation.error,
    traceback: escalation.traceback
  })
}
