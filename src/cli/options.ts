/**
 * The options the CLI's commands share, each validated by a Schema: a bad
 * value is an @effect/cli `ValidationError` naming the flag (exit code 2).
 *
 * @since 0.3.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

import { DEFAULT_TABLE_PREFIX, TablePrefix } from "../internal/tablePrefix.js"
import * as Ledger from "../Ledger.js"

/**
 * Decodes an option's value with `schema`; a value the schema refuses is a
 * usage error that names the flag: `--limit: must be between 1 and 100000, got -3`.
 */
export const withFlagSchema = <A, I, B extends I>(flag: string, schema: Schema.Schema<A, I>) =>
(
  self: Options.Options<B>
): Options.Options<A> =>
  Options.mapEffect(self, (value) =>
    Effect.mapError(
      Schema.decodeUnknown(schema)(value),
      (error) => ValidationError.invalidValue(HelpDoc.p(`--${flag}: ${error.message}`))
    ))

/** the ledger's SQLite file */
export const db = Options.text("db").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription("The ledger's SQLite file, opened read-only (default: cascadebreaker.db)."),
  Options.withDefault("cascadebreaker.db")
)

/** the prefix of the ledger's tables, checked like every module checks it */
export const tablePrefix = Options.text("table-prefix").pipe(
  Options.withPseudoName("PREFIX"),
  Options.withDescription(
    `Prefix of the ledger's tables, as given to SqliteLedger.layer (default: ${DEFAULT_TABLE_PREFIX}).`
  ),
  Options.withDefault(DEFAULT_TABLE_PREFIX),
  withFlagSchema("table-prefix", TablePrefix)
)

/** JSON instead of a table */
export const json = Options.boolean("json").pipe(
  Options.withDescription("Print the records as JSON (exact values, newest first) instead of a table.")
)

/** one breaker's records only */
export const breaker = Options.text("breaker").pipe(
  Options.withPseudoName("NAME"),
  Options.withDescription("Show only the records of the breaker with this name."),
  Options.optional
)

const Limit = Schema.Number.pipe(
  Schema.between(1, 100_000, { message: (issue) => `must be between 1 and 100000, got ${String(issue.actual)}` })
)

/** how many records, newest first */
export const limit = Options.integer("limit").pipe(
  Options.withPseudoName("N"),
  Options.withDescription("How many records to show, newest first, 1 to 100000 (default: 20)."),
  Options.withDefault(20),
  withFlagSchema("limit", Limit)
)

/** a `prune` age: `30d`, `12h`, `90m` or a `Duration` string */
export const Age = Schema.String.pipe(
  Schema.filter((input) => Option.isSome(Ledger.parseAge(input)), {
    message: (issue) => `must be a duration such as 30d, 12h or 90m, got ${JSON.stringify(issue.actual)}`
  })
)
