/**
 * The prefix of the tables a ledger, a shared state or a budget store makes:
 * it goes into SQL unquoted, so letters, digits and `_` only.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

/** the prefix every module uses when none is given */
export const DEFAULT_TABLE_PREFIX = "cb_"

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/

/** a table prefix: a letter or `_`, then up to 40 letters, digits or `_` */
export const TablePrefix = Schema.String.pipe(
  Schema.pattern(PREFIX, {
    message: (issue) =>
      `invalid tablePrefix ${
        JSON.stringify(issue.actual)
      }: use letters, digits and _ (at most 41, not starting with a digit)`
  }),
  Schema.brand("agentarmour/TablePrefix")
)

/** whether `prefix` may prefix table names (the one check every module makes) */
export const isTablePrefix: (prefix: unknown) => prefix is typeof TablePrefix.Type = Schema.is(TablePrefix)
