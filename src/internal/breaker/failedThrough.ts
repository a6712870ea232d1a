/**
 * A side channel from an error to the breaker it failed through, so that a
 * fallback placed after `withBreaker` can name the breaker of a node's own
 * error (`FailureContext.breaker`).
 *
 * Limits: only objects are tagged (a primitive failure such as
 * `Effect.fail("boom")` is never tagged, and its breaker is unknown); the
 * innermost breaker wins when an error passes through several; the map is
 * weak, so it never keeps an error alive; it is global to the process
 * (`globalValue`), shared by every copy of this module.
 */
import * as Cause from "effect/Cause"
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"

const failedThrough = globalValue(Symbol.for("agentarmour/FailedThrough"), () => new WeakMap<object, string>())

/** tags the failed value (or defect) of `cause` with the breaker `name`, unless an inner breaker did */
export const mark = (cause: Cause.Cause<unknown>, name: string): void => {
  const failure = Cause.failureOption(cause)
  const value = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (typeof value === "object" && value !== null && !failedThrough.has(value)) failedThrough.set(value, name)
}

/** the breaker a failed value passed through, if known */
export const breakerOf = (value: unknown): string | undefined =>
  typeof value === "object" && value !== null ? failedThrough.get(value) : undefined
