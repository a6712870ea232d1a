/**
 * Retention and prune ages: `30d`, `12h`, `90m`, or any `Duration`.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

const DAY_MILLIS = 24 * 60 * 60 * 1000

/**
 * Parses a retention or prune age: `30d`, `12h`, `90m`, `45s`, or any
 * `Duration` string such as `"30 days"`. `None` when it is not a positive
 * finite duration.
 *
 * @since 0.2.0
 * @category constructors
 */
export const parseAge = (input: Duration.DurationInput | string): Option.Option<Duration.Duration> => {
  const short = typeof input === "string" ? /^\s*(\d+(?:\.\d+)?)\s*(d|h|m|s|w)\s*$/i.exec(input) : null
  const units: Record<string, number> = { w: 7 * DAY_MILLIS, d: DAY_MILLIS, h: 3_600_000, m: 60_000, s: 1000 }
  const decoded = short !== null
    ? Option.some(Duration.millis(Number(short[1]) * units[short[2]!.toLowerCase()]!))
    : Duration.decodeUnknown(input)
  return Option.filter(decoded, (d) => Duration.isFinite(d) && Duration.toMillis(d) > 0)
}
