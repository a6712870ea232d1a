import * as Schema from "effect/Schema"

/**
 * A call was refused because its budget is spent (the call did not run).
 * `scope` says which limit: the current run's (`retryAfterMillis` is
 * `null`: a run's budget does not come back) or the time window's
 * (`retryAfterMillis` until the window resets).
 *
 * @since 0.2.0
 * @category errors
 */
export class BudgetExceededError extends Schema.TaggedError<BudgetExceededError>()("BudgetExceededError", {
  budget: Schema.String,
  scope: Schema.Literal("run", "window"),
  limit: Schema.Number,
  spent: Schema.Number,
  retryAfterMillis: Schema.NullOr(Schema.Number),
  /** what ran out: "tokens", "costUsd" or "calls" */
  resource: Schema.optional(Schema.Literal("tokens", "costUsd", "calls"))
}) {
  override get message(): string {
    const what = this.resource ?? "budget"
    const where = this.scope === "run" ? "this run" : "this window"
    const retry = this.retryAfterMillis === null ? "" : `; retry after ${this.retryAfterMillis} ms`
    return `budget "${this.budget}" is spent for ${where}: ${this.spent} of ${this.limit} ${what}${retry}`
  }
}

/**
 * A `BudgetStore` could not be read or written. A budget fails open on it
 * (the call runs) and logs a warning.
 *
 * @since 0.2.0
 * @category errors
 */
export class BudgetStoreError extends Schema.TaggedError<BudgetStoreError>()("BudgetStoreError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}
