import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

const isNegativeOrNaN = (n: number): boolean => Number.isNaN(n) || n < 0

/**
 * Decodes a user's duration option. `Duration.decodeUnknown` turns a
 * negative or NaN input into a silent zero (`-1`, `"-5 seconds"`, `NaN`);
 * here they, and infinite durations, are errors with a message.
 */
export const decodeDuration = (input: unknown): Either.Either<Duration.Duration, string> => {
  if (typeof input === "number" && isNegativeOrNaN(input)) {
    return Either.left(`Expected a non-negative number of milliseconds, got ${input}`)
  }
  if (typeof input === "bigint" && input < BigInt(0)) {
    return Either.left(`Expected a non-negative duration, got ${input}n`)
  }
  if (Array.isArray(input) && input.some((n) => typeof n === "number" && isNegativeOrNaN(n))) {
    return Either.left(`Expected a non-negative [seconds, nanos] duration, got ${JSON.stringify(input)}`)
  }
  if (typeof input === "string" && input.trim().startsWith("-")) {
    return Either.left(`Expected a non-negative duration, got ${JSON.stringify(input)}`)
  }
  return Option.match(Duration.decodeUnknown(input), {
    onNone: () =>
      Either.left(`Expected a duration such as "30 seconds" or a number of milliseconds, got ${JSON.stringify(input)}`),
    onSome: (d) => Duration.isFinite(d) ? Either.right(d) : Either.left("Expected a finite duration")
  })
}

/**
 * A user's duration option, or a `TypeError` naming the option. Lenient, as
 * in 0.1: a negative number is a zero duration here (`Fallback.makeCache`
 * relies on `maxAge: -1` meaning "already expired"); breaker options use the
 * strict `decodeDuration`.
 */
export const durationOption = (value: unknown, option: string): Duration.Duration =>
  Option.match(Duration.decodeUnknown(value), {
    onNone: () => {
      throw new TypeError(
        `${option} must be a duration such as "30 seconds" or a number of milliseconds, got ${JSON.stringify(value)}`
      )
    },
    onSome: (d) => d
  })
