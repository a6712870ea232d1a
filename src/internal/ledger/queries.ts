/**
 * What every read of the SQL ledger shares: the row limit of a query and
 * the `LedgerError` a failed read becomes.
 *
 * @internal
 */
import type { SqlError } from "@effect/sql/SqlError"

import { DEFAULT_LIMIT, LedgerError } from "./records.js"

/** a failed read of `what`, as the `LedgerError` readers fail with */
export const readError = (what: string) => (e: SqlError): LedgerError =>
  new LedgerError({ message: `could not read ${what} from the ledger: ${e.message}`, cause: e })

/** the query's `limit` when it is a whole number of at least 0, else `fallback` */
export const limitOf = (q: { readonly limit?: number | undefined } | undefined, fallback = DEFAULT_LIMIT): number => {
  const limit = q?.limit ?? fallback
  return Number.isInteger(limit) && limit >= 0 ? limit : fallback
}
