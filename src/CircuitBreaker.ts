/**
 * Circuit breakers for single graph nodes: CLOSED -> OPEN -> HALF_OPEN.
 *
 * ```ts
 * const breaker = yield* CircuitBreaker.make({ name: "research", failureThreshold: 3 })
 * const answer = yield* researchAgent(query).pipe(withBreaker(breaker))
 * ```
 *
 * The machinery lives in `internal/circuitBreaker.ts`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import type * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"

import type { BreakerConfig, BreakerOptions } from "./BreakerConfig.js"
import { decode } from "./internal/breaker/config.js"
import * as BreakerRegistry from "./internal/breaker/registry.js"
import * as Timeout from "./internal/breaker/timeout.js"
import * as internal from "./internal/circuitBreaker.js"
import type {
  BulkheadFullError,
  CallTimeoutError,
  CircuitIsolatedError,
  CircuitOpenError,
  InvalidResultError
} from "./internal/errors.js"
import type { BreakerState as State, Ledger, TransitionRecord } from "./Ledger.js"

export {
  /**
   * @since 0.1.0
   * @category models
   */
  BreakerConfig,
  /**
   * @since 0.1.0
   * @category models
   */
  type BreakerOptions
} from "./internal/breaker/config.js"

/**
 * @since 0.1.0
 * @category models
 */
export type BreakerState = State

/**
 * A state change, as published on `changes` and written to the ledger.
 *
 * @since 0.1.0
 * @category models
 */
export type Transition = TransitionRecord

export {
  /**
   * The bulkhead (`maxConcurrent` + `maxQueued`) is full: rejected, not a failure.
   *
   * @since 0.2.0
   * @category errors
   */
  BulkheadFullError,
  /**
   * The node overran the breaker's `callTimeout` and was interrupted.
   *
   * @since 0.1.0
   * @category errors
   */
  CallTimeoutError,
  /**
   * The breaker is isolated by an operator (`isolate`): rejected, nothing tripped.
   *
   * @since 0.2.0
   * @category errors
   */
  CircuitIsolatedError,
  /**
   * The breaker is OPEN (or HALF_OPEN with every probe permit taken): the
   * call was rejected without running the node.
   *
   * @since 0.1.0
   * @category errors
   */
  CircuitOpenError,
  /**
   * The node "succeeded" with a value `validateResult` rejected; counted as a failure.
   *
   * @since 0.2.0
   * @category errors
   */
  InvalidResultError
} from "./internal/errors.js"

/**
 * Identifies a `CircuitBreaker` value.
 *
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: typeof internal.TypeId = internal.TypeId

/**
 * The errors a breaker adds to a call's error channel.
 *
 * @since 0.2.0
 * @category errors
 */
export type BreakerError =
  | CircuitOpenError
  | CallTimeoutError
  | CircuitIsolatedError
  | BulkheadFullError
  | InvalidResultError

/**
 * Counters of one breaker.
 *
 * @since 0.1.0
 * @category models
 */
export interface BreakerMetrics {
  readonly breakerName: string
  readonly state: BreakerState
  readonly totalCalls: number
  readonly failures: number
  readonly successes: number
  readonly rejections: number
  readonly timeouts: number
  readonly slowCalls: number
  /** failures inside the current window */
  readonly failureCount: number
  readonly lastFailureAt: Date | null
  readonly openedAt: Date | null
}

/**
 * A circuit breaker guarding one node.
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker {
  readonly [TypeId]: typeof TypeId
  readonly name: string
  /** the decoded configuration, defaults applied */
  readonly config: BreakerConfig
  /** the current state; an OPEN breaker whose recovery timeout has passed reads (and becomes) HALF_OPEN */
  readonly state: Effect.Effect<BreakerState>
  readonly metrics: Effect.Effect<BreakerMetrics>
  /** every transition, as it happens (subscribers see transitions after they subscribe) */
  readonly changes: Stream.Stream<Transition>
  /** a subscription to the transitions, taken now (deterministic, unlike `changes` which subscribes when run) */
  readonly subscribe: Effect.Effect<Queue.Dequeue<Transition>, never, Scope.Scope>
  /** back to CLOSED, window cleared */
  readonly reset: Effect.Effect<void>
  /** OPEN until `reset`: isolates the node by hand */
  readonly forceOpen: Effect.Effect<void>
  /**
   * ISOLATED while the scope is open (nested scopes count): calls fail with
   * `CircuitIsolatedError`. The last scope to close returns the breaker to
   * CLOSED (window cleared), or to what `forceOpen`/`disable`/`reset` asked for meanwhile.
   */
  readonly isolate: Effect.Effect<void, never, Scope.Scope>
  /** DISABLED until `enable`: calls pass through, nothing is counted */
  readonly disable: Effect.Effect<void>
  /** DISABLED -> CLOSED (window cleared) */
  readonly enable: Effect.Effect<void>
  /** runs an effect through the breaker (what `withBreaker` does) */
  readonly execute: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BreakerError, R>
}

/**
 * The default breaker tag; `layer(tag, options)` builds a breaker under any tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const CircuitBreaker: Context.Tag<CircuitBreaker, CircuitBreaker> = Context.GenericTag<CircuitBreaker>(
  "agentarmour/CircuitBreaker"
)

/**
 * Builds a breaker. Fails with a `ParseError` naming the field when an
 * option is invalid (e.g. `failureThreshold: 0`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: BreakerOptions | BreakerConfig
): Effect.Effect<CircuitBreaker, ParseResult.ParseError, Ledger> => Effect.flatMap(decode(options), internal.make)

/**
 * A layer providing a breaker under `tag` (or under the default
 * `CircuitBreaker.CircuitBreaker` tag when only options are given).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: {
  <I>(
    tag: Context.Tag<I, CircuitBreaker>,
    options: BreakerOptions
  ): Layer.Layer<I, ParseResult.ParseError, Ledger>
  (options: BreakerOptions): Layer.Layer<CircuitBreaker, ParseResult.ParseError, Ledger>
} = (
  tagOrOptions: Context.Tag<any, CircuitBreaker> | BreakerOptions,
  options?: BreakerOptions
): Layer.Layer<any, ParseResult.ParseError, Ledger> =>
  Context.isTag(tagOrOptions)
    ? Layer.effect(tagOrOptions, make(options!))
    : Layer.effect(CircuitBreaker, make(tagOrOptions as BreakerOptions))

/**
 * What `withBreaker` accepts: a breaker, a `Context.Tag` of one, or the name
 * of a breaker in the `BreakerRegistry`.
 *
 * @since 0.1.0
 * @category models
 */
export type BreakerRef<I> = CircuitBreaker | Context.Tag<I, CircuitBreaker> | string

type Requirement<B> = B extends string ? BreakerRegistry.BreakerRegistry
  : B extends Context.Tag<infer I, CircuitBreaker> ? I
  : never

/**
 * Whether a value is a `CircuitBreaker`.
 *
 * @since 0.2.0
 * @category guards
 */
export const isCircuitBreaker: (u: unknown) => u is CircuitBreaker = internal.isCircuitBreaker

/**
 * Runs an effect through a breaker: CLOSED runs it (under `callTimeout`),
 * OPEN fails at once with `CircuitOpenError` without running it, HALF_OPEN
 * lets `halfOpenMaxCalls` probes through. Dual: `withBreaker(self, b)` or
 * `self.pipe(withBreaker(b))`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withBreaker: {
  <B extends BreakerRef<any>>(
    breaker: B
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BreakerError, R | Requirement<B>>
  <A, E, R, B extends BreakerRef<any>>(
    self: Effect.Effect<A, E, R>,
    breaker: B
  ): Effect.Effect<A, E | BreakerError, R | Requirement<B>>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, breaker: BreakerRef<any>): Effect.Effect<A, any, any> =>
    withResolved(breaker, (b) => b.execute(self))
)

/** `f` with the breaker `breaker` names (a breaker, a Tag, a registry name) */
const withResolved = <A>(
  breaker: BreakerRef<any>,
  f: (b: CircuitBreaker) => Effect.Effect<A, any, any>
): Effect.Effect<A, any, any> => {
  if (typeof breaker === "string") {
    return Effect.flatMap(BreakerRegistry.BreakerRegistry, (registry) => {
      const known = BreakerRegistry.unsafeLookup(registry, breaker)
      return known !== undefined ? f(known) : Effect.flatMap(registry.get(breaker), f)
    })
  }
  if (internal.isCircuitBreaker(breaker)) return f(breaker)
  return Effect.flatMap(breaker, f)
}

/**
 * Calls a promise-returning function — an LLM SDK call — through a breaker,
 * as `Effect.tryPromise` does: a function that takes a parameter gets an
 * `AbortSignal`; a rejection fails with `UnknownException` (or what `catch`
 * makes of it).
 *
 * Unlike `withBreaker(Effect.tryPromise(...))`, the promise is awaited on
 * the calling fiber: at `callTimeout` the signal is aborted (its reason is
 * the `CallTimeoutError`) and the call fails with `CallTimeoutError` without
 * waiting for the promise, and no child fiber is made for the timeout
 * (docs/performance.md, "suspending node"). Interrupting the caller aborts
 * the signal too.
 *
 * See docs/circuit-breaker.md, "Promise-returning calls", and examples/sdk_call.ts.
 *
 * @since 0.2.0
 * @category combinators
 */
export const tryPromise: {
  <A, B extends BreakerRef<any>>(
    breaker: B,
    evaluate: (signal: AbortSignal) => PromiseLike<A>
  ): Effect.Effect<A, Cause.UnknownException | BreakerError, Requirement<B>>
  <A, E, B extends BreakerRef<any>>(
    breaker: B,
    options: { readonly try: (signal: AbortSignal) => PromiseLike<A>; readonly catch: (error: unknown) => E }
  ): Effect.Effect<A, E | BreakerError, Requirement<B>>
} = (
  breaker: BreakerRef<any>,
  arg:
    | ((signal: AbortSignal) => PromiseLike<unknown>)
    | { readonly try: (signal: AbortSignal) => PromiseLike<unknown>; readonly catch: (error: unknown) => unknown }
): Effect.Effect<any, any, any> => {
  const evaluate = typeof arg === "function" ? arg : arg.try
  const onReject = typeof arg === "function"
    ? (e: unknown) => new Cause.UnknownException(e, "An unknown error occurred in CircuitBreaker.tryPromise")
    : arg.catch
  return withResolved(breaker, (b) => {
    const timed = internal.selfTimed(b)
    const timer = timed?.timer
    // as Effect.tryPromise: a signal only for a function that takes one (an AbortController costs microseconds)
    const wantsSignal = evaluate.length > 0
    const attempt = Effect.suspend(() => {
      const controller = wantsSignal ? new AbortController() : undefined
      let promise: PromiseLike<unknown>
      try {
        promise = evaluate(controller?.signal as AbortSignal)
      } catch (e) {
        return Effect.fail(onReject(e))
      }
      const stop = (reason: unknown) => controller?.abort(reason ?? new Error("the call was interrupted"))
      return timer === undefined
        ? Timeout.awaitUntimed(promise, stop, onReject, wantsSignal)
        : timer.awaitPromise(promise, stop, onReject, wantsSignal)
    })
    return timed === undefined ? b.execute(attempt) : timed.run(attempt)
  })
}

/**
 * Tells LangGraph control flow (`interrupt()`, `Command` navigation) from
 * failures: such errors pass through every breaker uncounted. Mirrors
 * LangGraph's `isGraphBubbleUp` (see `internal/breaker/controlFlow.ts`).
 *
 * @since 0.1.0
 * @category utils
 */
export const isControlFlow: (error: unknown) => boolean = internal.isControlFlow
