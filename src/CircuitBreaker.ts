/**
 * Circuit breakers for single graph nodes: CLOSED -> OPEN -> HALF_OPEN.
 *
 * CONTRACT FILE: the types and errors below are shared by every module.
 * `make`, `layer`, `withBreaker` are implemented by the core-breaker work
 * (machinery in `internal/circuitBreaker.ts`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { BreakerState as State, TransitionRecord } from "./Ledger.js"

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

/**
 * The breaker is OPEN (or HALF_OPEN with every probe permit taken): the
 * call was rejected without running the node.
 *
 * @since 0.1.0
 * @category errors
 */
export class CircuitOpenError extends Schema.TaggedError<CircuitOpenError>()("CircuitOpenError", {
  breaker: Schema.String,
  retryAfterMillis: Schema.Number
}) {
  override get message(): string {
    return `circuit breaker "${this.breaker}" is open; retry after ${this.retryAfterMillis} ms`
  }
}

/**
 * The node overran the breaker's `callTimeout` and was interrupted.
 *
 * @since 0.1.0
 * @category errors
 */
export class CallTimeoutError extends Schema.TaggedError<CallTimeoutError>()("CallTimeoutError", {
  breaker: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `call through circuit breaker "${this.breaker}" exceeded its callTimeout of ${this.timeoutMillis} ms and was interrupted`
  }
}

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
