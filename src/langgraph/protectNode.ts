/**
 * `protectNode`: the Python original's promise for a LangGraph node — a
 * failure never escapes. The breaker decides whether the node runs, a
 * fallback answers when it cannot, the guard keeps its garbage out of the
 * next node, and the update says what happened in the marker keys.
 *
 * @since 0.1.0
 */
import type { LangGraphRunnableConfig } from "@langchain/langgraph"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"

import type { BreakerOptions } from "../BreakerConfig.js"
import type * as Budget from "../Budget.js"
import * as CascadeGuard from "../CascadeGuard.js"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import * as LG from "./internal/langgraph.js"
import type { Result } from "./internal/protect/answer.js"
import { protectedCall } from "./internal/protect/call.js"
import * as Plan from "./internal/protect/plan.js"
import { runNowOf } from "./internal/protect/respond.js"
import * as Span from "./internal/protect/span.js"
import type * as Strategies from "./internal/strategies.js"
import type { Pricing } from "./internal/usage.js"
import type { Bridge, Services } from "./LangGraphBridge.js"
import type { FALLBACK_KEY, QUARANTINED_KEY, TRACEBACK_KEY } from "./markers.js"

/**
 * A LangGraph node: a plain (async) function or one returning an Effect.
 * It may return an update object, a `Command`, or nothing.
 *
 * @since 0.1.0
 * @category models
 */
export type Node<S, U> = (state: S, config: LangGraphRunnableConfig) => Strategies.MaybeAsync<U>

/**
 * A compiled graph (a subgraph) used as a node.
 *
 * @since 0.2.0
 * @category models
 */
export type Subgraph<U> = LG.Subgraph<U>

/**
 * What answers when the node cannot: `"cache"` (default), `{ cache }`,
 * `{ degrade }`, `{ escalate, mode }` or `{ decompose }`. `U` is the
 * fallback's own update type (a plain update, a `Command`, or nothing),
 * independent of the node's.
 *
 * @since 0.1.0
 * @category models
 */
export type FallbackOption<S, U> = Strategies.FallbackOption<S, U>

/**
 * What happened in one call of a protected node (for logs and traces).
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  /** the graph node's name (`config.metadata.langgraph_node`), else the breaker's */
  readonly node: string
  readonly breaker: string
  readonly runId: string
  readonly outcome: "ok" | "fallback" | "failed" | "contaminated"
  /** the strategy that answered (`outcome: "fallback"`), or "none" (`outcome: "failed"`) */
  readonly fallback?: string | undefined
  readonly error?: string | undefined
  readonly quarantined: ReadonlyArray<string>
  /** the node's budget refused the call (it did not run) */
  readonly budget?: BudgetRefusal | undefined
}

/**
 * Why a budget refused a call (from its `BudgetExceededError`).
 *
 * @since 0.2.0
 * @category models
 */
export interface BudgetRefusal {
  readonly budget: string
  readonly scope: "run" | "window"
  readonly resource: "tokens" | "costUsd" | "calls" | undefined
  readonly limit: number
  readonly spent: number
  readonly retryAfterMillis: number | null
}

/**
 * The custom event `agentarmour` every protected call emits to LangGraph's
 * callbacks (`graph.streamEvents(..., { version: "v2" })`, LangSmith).
 *
 * @since 0.2.0
 * @category models
 */
export interface NodeEvent {
  readonly node: string
  readonly outcome: Outcome["outcome"]
  readonly fallback?: string | undefined
  /** the breaker's state after the call */
  readonly state: CircuitBreaker.BreakerState
  /** the node's budget refused the call */
  readonly budget?: BudgetRefusal
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ProtectOptions<S, U> {
  /** the breaker: options (created once for this node) or the name of a breaker in the registry */
  readonly breaker: BreakerOptions | string
  /** default `"cache"` (last good update of this node, 5 minutes) */
  readonly fallback?: FallbackOption<S, U> | undefined
  readonly guard?: {
    readonly quarantineOnFailure?: ReadonlyArray<keyof S & string>
    readonly readsFrom?: ReadonlyArray<keyof S & string>
    readonly validate?: Schema.Schema<any, any, never>
    readonly maxRepeats?: number
  } | undefined
  /** called after every call with what happened */
  readonly onOutcome?: ((outcome: Outcome) => void) | undefined
  /**
   * What the node may spend (options: one budget for this node, made on first
   * use; or a `Budget` shared with other nodes). Charged with the
   * `usage_metadata` of the AI messages the node returns; a spent budget
   * refuses the call before it runs and the fallback answers.
   */
  readonly budget?: Budget.BudgetOptions | Budget.Budget | undefined
  /** dollars per million input and output tokens, per model name (no built-in prices) */
  readonly pricing?: Pricing | undefined
}

/**
 * The marker keys a protected node may add to its update.
 *
 * @since 0.2.0
 * @category models
 */
export interface Markers {
  readonly [TRACEBACK_KEY]?: string
  readonly [FALLBACK_KEY]?: string
  readonly [QUARANTINED_KEY]?: ReadonlyArray<string>
}

/**
 * What a protected node returns for a node or fallback returning `A`: a
 * `Command` stays a `Command` (markers in its `update`), an update gains the
 * markers, nothing becomes the markers alone.
 *
 * @since 0.2.0
 * @category models
 */
export type Protected<A> = A extends { readonly lg_name: "Command" } ? A
  : A extends null | undefined | void ? Markers
  : Partial<A> & Markers

/**
 * The LangGraph node `protectNode` returns.
 *
 * @since 0.2.0
 * @category models
 */
export type ProtectedNode<S, A> = (state: S, config?: LangGraphRunnableConfig) => Promise<Protected<A> | Markers>

/**
 * The span around every protected call, and its attributes.
 *
 * @since 0.2.0
 * @category telemetry
 */
export const NODE_SPAN: typeof Span.NODE_SPAN = Span.NODE_SPAN
/** @since 0.2.0 @category telemetry */
export const SPAN_NODE: typeof Span.SPAN_NODE = Span.SPAN_NODE
/** @since 0.2.0 @category telemetry */
export const SPAN_BREAKER: typeof Span.SPAN_BREAKER = Span.SPAN_BREAKER
/** @since 0.2.0 @category telemetry */
export const SPAN_OUTCOME: typeof Span.SPAN_OUTCOME = Span.SPAN_OUTCOME
/** @since 0.2.0 @category telemetry */
export const SPAN_FALLBACK: typeof Span.SPAN_FALLBACK = Span.SPAN_FALLBACK

/**
 * Protects a LangGraph node — a function (plain or Effect) or a compiled
 * subgraph. Returns a LangGraph node `(state, config) => Promise<update>`
 * that never fails (LangGraph control flow — `interrupt()`, `Command` —
 * passes through): on failure the update is the fallback's answer plus
 * `__cascadebreaker_traceback__` (the failure, naming the function that
 * failed) and `__cascadebreaker_fallback__` (which strategy answered, or
 * "none"). A `Command`, from the node or a fallback, keeps its navigation
 * and carries the markers in its `update`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const protectNode = <S extends Record<string, any>, U = never, F = never, R = never>(
  bridge: Bridge<R>,
  node: Node<S, U> | Subgraph<U>,
  options: ProtectOptions<S, F>
): ProtectedNode<S, U | F> => {
  const plan = Plan.make<S>(node, {
    breaker: options.breaker,
    fallback: options.fallback,
    guard: options.guard as CascadeGuard.NodeSpec<S> | undefined,
    budget: options.budget,
    pricing: options.pricing
  })
  const program = (state: S, config: LangGraphRunnableConfig) =>
    Effect.withFiberRuntime<Result, unknown, R | Services>((fiber) => {
      const c: Strategies.Call<S> = { state, config, node: LG.nodeName(config, plan.name) }
      return Span.withNodeSpan(
        protectedCall<S, R>(plan, c, fiber.getFiberRef(CascadeGuard.currentRun)),
        { [SPAN_NODE]: c.node, [SPAN_BREAKER]: plan.name },
        ({ outcome }) =>
          outcome.fallback === undefined
            ? { [SPAN_OUTCOME]: outcome.outcome }
            : { [SPAN_OUTCOME]: outcome.outcome, [SPAN_FALLBACK]: outcome.fallback }
      )
    })
  const runNow = runNowOf(bridge)
  const respond = responder<Protected<U | F> | Markers>(options.onOutcome)
  return (state, config) => {
    const cfg = config ?? {}
    try {
      const result = runNow(program(state, cfg), cfg)
      return result instanceof Promise ? result.then((r) => respond(r, cfg)) : respond(result, cfg)
    } catch (e) {
      // as from an async function: what the bridge rethrows (LangGraph control flow) or onOutcome throws
      return Promise.reject(e)
    }
  }
}

/** the node's update once the program answered: the custom event first, when the run has callbacks */
const responder =
  <A>(onOutcome: ((outcome: Outcome) => void) | undefined) =>
  (result: Result, cfg: LangGraphRunnableConfig): Promise<A> => {
    if (result.breakerState === undefined) {
      onOutcome?.(result.outcome)
      return Promise.resolve(result.update as A)
    }
    const { budget, fallback, node, outcome } = result.outcome
    const event: NodeEvent = {
      node,
      outcome,
      ...(fallback === undefined ? {} : { fallback }),
      state: result.breakerState,
      ...(budget === undefined ? {} : { budget })
    }
    return LG.emitEvent(cfg, event).then(() => {
      onOutcome?.(result.outcome)
      return result.update as A
    })
  }
