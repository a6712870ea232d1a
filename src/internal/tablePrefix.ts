/**
 * The prefix of the tables a ledger, a shared state or a budget store makes:
 * it goes into SQL unquoted, so letters, digits and `_` only.
 *
 * @internal
 */
const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/

/** whether `prefix` may prefix table names */
export const isTablePrefix = (prefix: string): boolean => PREFIX.test(prefix)
