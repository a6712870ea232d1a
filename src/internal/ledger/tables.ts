/**
 * The table names of a ledger, from its (decoded) prefix.
 *
 * @internal
 */
import type { TablePrefix } from "../tablePrefix.js"

/** table names of a ledger */
export const tables = (prefix: TablePrefix) => ({
  failures: `${prefix}failures`,
  transitions: `${prefix}transitions`,
  fallbacks: `${prefix}fallbacks`,
  quarantines: `${prefix}quarantines`,
  stats: `${prefix}stats`,
  statsFallbacks: `${prefix}stats_fallbacks`,
  totals: `${prefix}totals`,
  usage: `${prefix}usage`,
  toolCalls: `${prefix}tool_calls`,
  migrations: `${prefix}migrations`
})

/** the table names of one ledger */
export type Tables = ReturnType<typeof tables>
