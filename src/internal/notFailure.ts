/**
 * Tags of errors that are refusals by agentarmour's own policies, not
 * failures of the node: a breaker's default `isFailure` does not count them
 * (a budget refusing a call says nothing about the node's health).
 *
 * Kept in one small module so the breaker and the modules that define such
 * errors agree without importing each other.
 */

/** `_tag`s a breaker does not count as failures by default */
export const notFailureTags: ReadonlySet<string> = new Set(["BudgetExceededError"])

/** whether `error` is a policy refusal (by its `_tag`), not a node failure */
export const isNotFailure = (error: unknown): boolean => {
  try {
    return typeof error === "object" && error !== null &&
      notFailureTags.has((error as { readonly _tag?: unknown })._tag as string)
  } catch {
    // a hostile getter or Proxy: not one of our refusals
    return false
  }
}
