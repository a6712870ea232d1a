import * as Schema from "effect/Schema"

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

