/**
 * The prefix of the tables a ledger, a shared state or a budget store makes:
 * it goes into SQL unquoted, so letters, digits and `_` only. Every
 * constructor taking a `tablePrefix` decodes it with `decodeTablePrefix`,
 * so a bad one fails the same way everywhere: a `LedgerError` naming
 * `tablePrefix` (never a defect).
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

import { LedgerError } from "./ledger/records.js"

/** the prefix every module uses when none is given */
export const DEFAULT_TABLE_PREFIX = "cb_" as TablePrefix

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

/** a prefix that may prefix table names */
export type TablePrefix = typeof TablePrefix.Type

/** whether `prefix` may prefix table names */
export const isTablePrefix: (prefix: unknown) => prefix is TablePrefix = Schema.is(TablePrefix)

const decode = Schema.decodeUnknownEither(TablePrefix)

/**
 * The `tablePrefix` option, decoded: `DEFAULT_TABLE_PREFIX` when it is not
 * given, a `LedgerError` naming `tablePrefix` when it is not a prefix.
 */
export const decodeTablePrefix = (prefix: unknown): Either.Either<TablePrefix, LedgerError> =>
  prefix === undefined ?
    Either.right(DEFAULT_TABLE_PREFIX) :
    Either.mapLeft(decode(prefix), (error) =>
      new LedgerError({
        message: typeof prefix === "string"
          ? ParseResult.TreeFormatter.formatErrorSync(error)
          : `invalid tablePrefix ${String(prefix)}: a string of letters, digits and _`
      }))
