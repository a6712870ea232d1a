/**
 * Turning a failure's `Cause` into the text a ledger stores: its type, its
 * message and its traceback (`Cause.pretty`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"

import { FailureRecord } from "./records.js"
import type { FailureInput } from "./records.js"

const spanAnnotation = Symbol.for("effect/SpanAnnotation")

/**
 * The traceback of a cause that is one plain `Error` (no `_tag`, no `cause`,
 * no span annotation): its `stack`, which is what `Cause.pretty` prints for
 * it, at a third of the cost. `undefined` for anything else.
 */
const plainErrorStack = (cause: Cause.Cause<unknown>): string | undefined => {
  const e = cause._tag === "Fail" ? cause.error : cause._tag === "Die" ? cause.defect : undefined
  if (!(e instanceof Error) || "_tag" in e || e.cause !== undefined || spanAnnotation in e) return undefined
  const stack = e.stack
  return typeof stack === "string" && stack.startsWith(`${e.name}: ${e.message}`) ? stack : undefined
}

/**
 * Renders a `FailureInput` (the error's type, message and `Cause.pretty`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const failureFromInput = (input: FailureInput): FailureRecord => {
  const squashed = Cause.squash(input.cause)
  let errorType = "Error"
  let errorMessage = ""
  try {
    if (squashed !== null && typeof squashed === "object") {
      const tag = (squashed as { _tag?: unknown })._tag
      errorType = typeof tag === "string" ? tag : (squashed as object).constructor?.name ?? "Error"
      const message = (squashed as { message?: unknown }).message
      errorMessage = typeof message === "string" ? message : String(squashed)
    } else {
      errorType = typeof squashed
      errorMessage = String(squashed)
    }
  } catch {
    errorMessage = "(the error could not be rendered)"
  }
  let traceback: string
  try {
    traceback = plainErrorStack(input.cause) ?? Cause.pretty(input.cause)
  } catch {
    traceback = errorMessage
  }
  return new FailureRecord({
    breakerName: input.breakerName,
    category: input.category,
    errorType,
    errorMessage: errorMessage === "" ? errorType : errorMessage,
    traceback,
    createdAt: input.createdAt
  }, { disableValidation: true })
}

/** renders a failure; the same error object failing again is rendered once */
const renderCache = new WeakMap<
  object,
  { readonly errorType: string; readonly errorMessage: string; readonly traceback: string }
>()
export const renderCached = (input: FailureInput): FailureRecord => {
  const single = input.cause._tag === "Fail"
    ? input.cause.error
    : input.cause._tag === "Die"
    ? input.cause.defect
    : undefined
  if (single !== null && typeof single === "object") {
    const hit = renderCache.get(single)
    if (hit !== undefined) {
      return new FailureRecord({
        ...hit,
        breakerName: input.breakerName,
        category: input.category,
        createdAt: input.createdAt
      }, true)
    }
    const record = failureFromInput(input)
    renderCache.set(single, {
      errorType: record.errorType,
      errorMessage: record.errorMessage,
      traceback: record.traceback
    })
    return record
  }
  return failureFromInput(input)
}
