/**
 * What a failed call is to the breaker: uncounted (interruption of the
 * caller, LangGraph control flow, a failure `isFailure` ignores — by default,
 * agentarmour's own policy refusals such as `BudgetExceededError`,
 * `../notFailure.ts`) or counted,
 * with its ledger category and a one-line description for transition
 * reasons. Rendering the full cause (`Cause.pretty`) is the ledger writer's
 * job, off the caller's fiber (`Ledger.recordFailureCause`).
 */
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"

import type { FailureCategory } from "../../Ledger.js"
import { CallTimeoutError, InvalidResultError } from "../errors.js"
import { isNotFailure } from "../notFailure.js"
import { causeIsControlFlow } from "./controlFlow.js"

export type Classified =
  | { readonly counted: false }
  | { readonly counted: true; readonly category: FailureCategory; readonly error: unknown }

const UNCOUNTED: Classified = { counted: false }

/** a hostile value (a Proxy whose getPrototypeOf throws) is an "exception" */
const categoryOf = (error: unknown): FailureCategory => {
  try {
    return error instanceof CallTimeoutError
      ? "timeout"
      : error instanceof InvalidResultError
      ? "invalid_result"
      : "exception"
  } catch {
    return "exception"
  }
}

export const classify = (
  cause: Cause.Cause<unknown>,
  isFailure: ((cause: Cause.Cause<unknown>) => boolean) | undefined
): Classified => {
  if (Cause.isInterruptedOnly(cause) || causeIsControlFlow(cause)) return UNCOUNTED
  if (isFailure !== undefined && !isFailure(cause)) return UNCOUNTED
  const failure = Cause.failureOption(cause)
  if (isFailure === undefined && Option.isSome(failure) && isNotFailure(failure.value)) return UNCOUNTED
  if (Option.isSome(failure)) {
    const error = failure.value
    const category: FailureCategory = categoryOf(error)
    return { counted: true, category, error }
  }
  const defect = Cause.dieOption(cause)
  return { counted: true, category: "defect", error: Option.isSome(defect) ? defect.value : Cause.squash(cause) }
}

/**
 * One line naming an error, for transition reasons and messages: never
 * throws, never empty (a getter that throws, an empty message, a primitive).
 */
export const describe = (error: unknown): string => {
  try {
    if (typeof error === "object" && error !== null) {
      const e = error as { readonly _tag?: unknown; readonly name?: unknown; readonly message?: unknown }
      const type = typeof e._tag === "string"
        ? e._tag
        : typeof e.name === "string" && e.name.length > 0
        ? e.name
        : (error as object).constructor?.name ?? "Object"
      const message = typeof e.message === "string" ? e.message : ""
      return message.length > 0 ? message : `${type} (no message)`
    }
    const text = String(error)
    return text.length > 0 ? text : `${typeof error} (empty)`
  } catch {
    return "(the error could not be rendered)"
  }
}
