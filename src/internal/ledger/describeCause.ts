/**
 * The one line the SQL ledger logs (and reports as `lastError`) for a cause:
 * the error's message, with its own cause's message when that adds to it.
 *
 * @internal
 */
import * as Cause from "effect/Cause"

/** the one-line description of a cause, whitespace collapsed; never throws */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const e = Cause.squash(cause)
  let message: string
  try {
    if (e instanceof Error) {
      const inner = (e as { cause?: unknown }).cause
      message = inner instanceof Error && inner.message !== "" && inner.message !== e.message
        ? `${e.message}: ${inner.message}`
        : e.message
    } else {
      message = String(e)
    }
  } catch {
    message = "unknown error"
  }
  return message.replace(/\s+/g, " ").trim()
}
