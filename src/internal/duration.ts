import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** a user's duration option, or a clear error naming the option */
export const durationOption = (value: unknown, option: string): Duration.Duration =>
  Option.match(Duration.decodeUnknown(value), {
    onNone: () => {
      throw new TypeError(
        `${option} must be a duration such as "30 seconds" or a number of milliseconds, got ${JSON.stringify(value)}`
      )
    },
    onSome: (d) => d
  })
