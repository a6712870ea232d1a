import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const isNegativeOrNaN = (n: number): boolean => Number.isNaN(n) || n < 0

/** An input as the user wrote it, for error messages (`NaN`, `-5`, `"soon"`, `5n`, `[1,2]`). */
const show = (input: unknown): string => {
  if (typeof input === "string") return JSON.stringify(input)
  if (typeof input === "bigint") return `${input}n`
  if (Duration.isDuration(input)) return `Duration(${Duration.format(input)})`
  if (typeof input === "object" && input !== null) {
    try {
      return JSON.stringify(input) ?? String(input)
    } catch {
      return String(input)
    }
  }
  return String(input)
}

/**
 * Checks a user's duration. `Duration.decodeUnknown` turns a negative or NaN
 * input into a silent zero (`-1`, `"-5 seconds"`, `NaN`); here they, infinite
 * and unparsable durations are refused. The left side says what the input
 * must be ("a non-negative duration"), for the callers' messages.
 */
const check = (input: unknown): Either.Either<Duration.Duration, string> => {
  const negative = (typeof input === "number" && isNegativeOrNaN(input)) ||
    (typeof input === "bigint" && input < BigInt(0)) ||
    (Array.isArray(input) && input.some((n) => typeof n === "number" && isNegativeOrNaN(n))) ||
    (typeof input === "string" && input.trim().startsWith("-"))
  if (negative) return Either.left("a non-negative duration")
  return Option.match(Duration.decodeUnknown(input), {
    onNone: () => Either.left(`a duration such as "30 seconds" or a number of milliseconds`),
    onSome: (d) => Duration.isFinite(d) ? Either.right(d) : Either.left("a finite duration")
  })
}

/**
 * Decodes a user's duration: negative, NaN, infinite and unparsable inputs
 * are errors with a message (`Expected a non-negative duration, got -5`).
 */
export const decodeDuration = (input: unknown): Either.Either<Duration.Duration, string> =>
  Either.mapLeft(check(input), (requirement) => `Expected ${requirement}, got ${show(input)}`)

/**
 * The strict duration schema: a finite, non-negative `Duration.DurationInput`
 * ("30 seconds", 5000 millis, a `Duration`) decoded to a `Duration`. Inside a
 * `Schema.Struct` (`BreakerConfig`) the `ParseError` names the field.
 */
export const DurationInput: Schema.Schema<Duration.Duration, Duration.DurationInput> = Schema.transformOrFail(
  Schema.Unknown,
  Schema.DurationFromSelf,
  {
    strict: false,
    decode: (input, _, ast) =>
      Either.match(decodeDuration(input), {
        onLeft: (message) => ParseResult.fail(new ParseResult.Type(ast, input, message)),
        onRight: ParseResult.succeed
      }),
    encode: ParseResult.succeed
  }
) as any

/**
 * Decodes the duration options of `owner` (the API that takes them, e.g.
 * `"CascadeGuard.layer"`) with the strict rules of `DurationInput`. Every bad
 * option is named in one `ParseError`:
 * `CascadeGuard.layer: quarantineTtl must be a non-negative duration, got -5`.
 *
 * Callers whose public type has an error channel fail with it; those whose
 * type is fixed without one (DESIGN.md) die with it, a defect at
 * construction for a programming error.
 */
export const decodeOptions = <const K extends string>(
  owner: string,
  options: { readonly [k in K]: unknown }
): Either.Either<{ readonly [k in K]: Duration.Duration }, ParseResult.ParseError> => {
  const decoded = {} as { [k in K]: Duration.Duration }
  const problems: Array<string> = []
  for (const key of Object.keys(options) as Array<K>) {
    const value = options[key]
    Either.match(check(value), {
      onLeft: (requirement) => problems.push(`${key} must be ${requirement}, got ${show(value)}`),
      onRight: (d) => (decoded[key] = d)
    })
  }
  return problems.length === 0
    ? Either.right(decoded)
    : Either.left(
      ParseResult.parseError(new ParseResult.Type(DurationInput.ast, options, `${owner}: ${problems.join("; ")}`))
    )
}
