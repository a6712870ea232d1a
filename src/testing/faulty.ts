/**
 * `AgentMock.faulty(node, faults)`: a node whose n-th call does the n-th
 * fault of the schedule; after the schedule, the real node.
 *
 * @since 0.3.0
 */
import type * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

import { DurationInput } from "../internal/duration.js"
import * as Clock from "./internal/clock.js"

/**
 * - `"ok"`: the real node
 * - `"throw"`: fails with `InjectedFault`
 * - `"hang"`: never answers (until the call's `signal` aborts): a breaker's `callTimeout` ends it
 * - `{ delay }`: the real node, after `delay` on Effect's `Clock` (the bridge's `TestClock` in tests)
 * - `{ garbage }`: answers `garbage` instead of the node's update (contamination)
 *
 * @since 0.3.0
 * @category models
 */
export type Fault =
  | "ok"
  | "throw"
  | "hang"
  | { readonly delay: Duration.DurationInput }
  | { readonly garbage: unknown }

/**
 * The failure `"throw"` injects.
 *
 * @since 0.3.0
 * @category errors
 */
export class InjectedFault extends Error {
  /** @since 0.3.0 */
  override readonly name = "InjectedFault"
  constructor(readonly call: number) {
    super(`AgentMock.faulty: injected failure on call ${call}`)
  }
}

const FaultSchema = Schema.Union(
  Schema.Literal("ok", "throw", "hang"),
  Schema.Struct({ delay: DurationInput }),
  Schema.Struct({ garbage: Schema.Unknown })
)
const decodeFaults = Schema.decodeUnknownSync(Schema.Array(FaultSchema), { onExcessProperty: "error" })

/** the `signal` of a LangGraph config among the call's arguments */
const signalOf = (args: ReadonlyArray<unknown>): AbortSignal | undefined => {
  for (const a of args) {
    const signal = typeof a === "object" && a !== null ? (a as { signal?: unknown }).signal : undefined
    if (signal instanceof AbortSignal) return signal
  }
  return undefined
}

const hang = (signal: AbortSignal | undefined): Promise<never> =>
  new Promise<never>((_, reject) => {
    if (signal === undefined) return
    if (signal.aborted) return reject(signal.reason)
    signal.addEventListener("abort", () => reject(signal.reason), { once: true })
  })

/**
 * The node, with `calls` (how many times it was called).
 *
 * @since 0.3.0
 * @category models
 */
export type FaultyNode<Args extends ReadonlyArray<unknown>, A> = ((...args: Args) => Promise<A>) & {
  readonly calls: number
}

/**
 * A node (or any async function) whose n-th call does the n-th fault; after
 * the list, the real node. A bad fault is a ParseError naming its index.
 *
 * @since 0.3.0
 * @category constructors
 */
export const faulty = <Args extends ReadonlyArray<unknown>, A>(
  node: (...args: Args) => A | Promise<A>,
  faults: ReadonlyArray<Fault>
): FaultyNode<Args, A> => {
  const schedule = decodeFaults(faults)
  let calls = 0
  const run = (...args: Args): Promise<A> => {
    const call = ++calls
    const fault = schedule[call - 1] ?? "ok"
    // read while still inside the node's LangGraph call
    const runtime = Clock.currentRuntime()
    if (fault === "ok") return Promise.resolve().then(() => node(...args))
    if (fault === "throw") return Promise.reject(new InjectedFault(call))
    if (fault === "hang") return hang(signalOf(args))
    if ("garbage" in fault) return Promise.resolve(fault.garbage as A)
    return Clock.sleep(runtime, fault.delay, signalOf(args)).then(() => node(...args))
  }
  return Object.defineProperty(run, "calls", { get: () => calls }) as FaultyNode<Args, A>
}
