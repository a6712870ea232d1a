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

/**
 * The node "succeeded" with a value its breaker's `validateResult` rejected
 * (an empty answer, a refusal, bad JSON). Counted as a failure (ledger
 * category `invalid_result`).
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidResultError extends Schema.TaggedError<InvalidResultError>()("InvalidResultError", {
  breaker: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `circuit breaker "${this.breaker}" rejected the result: ${this.reason}`
  }
}

/**
 * The breaker is isolated by an operator (`isolate`): the call was rejected
 * without running the node. Unlike `CircuitOpenError`, nothing tripped.
 *
 * @since 0.2.0
 * @category errors
 */
export class CircuitIsolatedError extends Schema.TaggedError<CircuitIsolatedError>()("CircuitIsolatedError", {
  breaker: Schema.String
}) {
  override get message(): string {
    return `circuit breaker "${this.breaker}" is isolated`
  }
}

/**
 * Every slot of the breaker's bulkhead (`maxConcurrent`) and of its queue
 * (`maxQueued`) is taken: the call was rejected without running the node.
 * A rejection, never a failure.
 *
 * @since 0.2.0
 * @category errors
 */
export class BulkheadFullError extends Schema.TaggedError<BulkheadFullError>()("BulkheadFullError", {
  breaker: Schema.String,
  maxConcurrent: Schema.Number
}) {
  override get message(): string {
    return `circuit breaker "${this.breaker}" already runs ${this.maxConcurrent} calls and its queue is full`
  }
}
