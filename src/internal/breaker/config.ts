/**
 * The options of a circuit breaker, decoded with Schema: defaults applied,
 * bad input rejected with a `ParseError` whose message names the field.
 * Public through `BreakerConfig.ts` (and `CircuitBreaker.ts`); here so that
 * the public modules import it, not each other. What the machine makes of a
 * decoded config is `fromConfig.ts`.
 */
import type * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

import * as duration from "../duration.js"

/**
 * A `Duration.DurationInput` ("30 seconds", 5000 millis, a `Duration`)
 * decoded to a `Duration`; negative, NaN, infinite and unparsable inputs are
 * refused (the strict schema every duration option of the library uses).
 */
export const DurationInput: Schema.Schema<Duration.Duration, Duration.DurationInput> = duration.DurationInput

/**
 * A `DurationInput` greater than zero (a window of 0 could never hold a failure).
 */
export const PositiveDurationInput: Schema.Schema<Duration.Duration, Duration.DurationInput> = DurationInput.pipe(
  Schema.filter((d) => Duration.greaterThan(d, Duration.zero), { message: () => "Expected a duration greater than 0" })
) as any

const Rate = Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1)).annotations({
  message: () => "Expected a rate greater than 0 and at most 1"
})

const ScheduleSchema = Schema.declare((u): u is Schedule.Schedule<unknown, unknown> => Schedule.isSchedule(u), {
  identifier: "Schedule",
  message: () => "Expected a Schedule (from effect/Schedule)"
})

const Validator = Schema.declare(
  (u): u is (value: unknown) => boolean | string => typeof u === "function",
  { identifier: "Function", message: () => "Expected a function (value) => boolean | string" }
)

const intBetween = (min: number, max: number) =>
  Schema.Int.pipe(Schema.between(min, max, { message: () => `Expected an integer between ${min} and ${max}` }))

const Predicate = Schema.declare(
  (u): u is (cause: Cause.Cause<unknown>) => boolean => typeof u === "function",
  { identifier: "Function", message: () => "Expected a function (cause) => boolean" }
)

/**
 * Whether `name` can name a breaker: 1 to 200 characters, none of them a NUL
 * or another control character (the ledger, the dashboard, Postgres and the
 * metrics all carry it).
 */
export const isBreakerName = (name: unknown): name is string =>
  typeof name === "string" && name.length >= 1 && name.length <= 200 && !hasControl(name)

/** a NUL, another C0 control character or DEL */
const hasControl = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

/**
 * A breaker's name, as `isBreakerName` says.
 */
export const BreakerName: Schema.Schema<string> = Schema.String.pipe(
  Schema.minLength(1, { message: () => "Expected a non-empty breaker name" }),
  Schema.maxLength(200, { message: () => "Expected a breaker name of at most 200 characters" }),
  Schema.filter((name) => !hasControl(name), {
    message: () => "Expected a breaker name without NUL or other control characters"
  })
)

/**
 * The decoded configuration of a breaker. Defaults follow the Python
 * original: 3 failures within 60 s trip it, it stays OPEN 30 s, one probe at
 * a time in HALF_OPEN, calls time out after 30 s.
 */
export class BreakerConfig extends Schema.Class<BreakerConfig>("BreakerConfig")({
  name: BreakerName,
  /** failures within `windowSize` that trip the breaker */
  failureThreshold: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 100, { message: () => "Expected an integer between 1 and 100" })),
    { default: () => 3, exact: true }
  ),
  /** the sliding window in which failures (and calls, for rates) are counted */
  windowSize: Schema.optionalWith(PositiveDurationInput, { default: () => Duration.seconds(60), exact: true }),
  /** how long the breaker stays OPEN before a probe is let through */
  recoveryTimeout: Schema.optionalWith(DurationInput, { default: () => Duration.seconds(30), exact: true }),
  /** concurrent probes allowed in HALF_OPEN */
  halfOpenMaxCalls: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 1000, { message: () => "Expected an integer between 1 and 1000" })),
    { default: () => 1, exact: true }
  ),
  /** a call running longer is interrupted and fails with `CallTimeoutError`; `null` = no timeout */
  callTimeout: Schema.optionalWith(Schema.NullOr(DurationInput), { default: () => Duration.seconds(30), exact: true }),
  /** `false` makes the breaker a pure pass-through */
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true, exact: true }),
  /** trips when the failure rate in the window reaches this (once `minimumCalls` calls were seen) */
  failureRateThreshold: Schema.optionalWith(Rate, { exact: true }),
  /** calls needed in the window before the rate rules apply */
  minimumCalls: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 1_000_000, { message: () => "Expected an integer between 1 and 1000000" })),
    { default: () => 10, exact: true }
  ),
  /** a success slower than this is a slow call (recorded with category `slow`) */
  slowCallDuration: Schema.optionalWith(DurationInput, { exact: true }),
  /** trips when the rate of slow calls in the window reaches this (default 1 when `slowCallDuration` is set) */
  slowCallRateThreshold: Schema.optionalWith(Rate, { exact: true }),
  /** grows the recovery timeout after failed probes: its delays are added to `recoveryTimeout` */
  recoveryBackoff: Schema.optionalWith(ScheduleSchema, { exact: true }),
  /** which failures count; the default counts every failure */
  isFailure: Schema.optionalWith(Predicate, { exact: true }),
  /** `"window"`: `failureThreshold` failures within `windowSize` trip; `"consecutive"`: that many in a row */
  failureMode: Schema.optionalWith(Schema.Literal("window", "consecutive"), { default: () => "window", exact: true }),
  /** the rate rules look at the last N calls instead of `windowSize` */
  countWindow: Schema.optionalWith(intBetween(1, 100_000), { exact: true }),
  /** successful probes needed to close; any failed probe reopens */
  halfOpenSuccesses: Schema.optionalWith(intBetween(1, 1000), { default: () => 1, exact: true }),
  /** an undecided HALF_OPEN reopens after this (default: `callTimeout`, else 60 seconds) */
  halfOpenTimeout: Schema.optionalWith(PositiveDurationInput, { exact: true }),
  /** OPEN -> HALF_OPEN on the clock, without a call (the breaker is built in a `Scope`) */
  autoHalfOpen: Schema.optionalWith(Schema.Boolean, { default: () => false, exact: true }),
  /** a success this rejects (`false` or a reason) fails with `InvalidResultError` and counts */
  validateResult: Schema.optionalWith(Validator, { exact: true }),
  /** bulkhead: calls running at once through this breaker */
  maxConcurrent: Schema.optionalWith(intBetween(1, 1_000_000), { exact: true }),
  /** bulkhead: callers that may wait for a slot; beyond them `BulkheadFullError` */
  maxQueued: Schema.optionalWith(intBetween(0, 1_000_000), { default: () => 0, exact: true }),
  /** `withBreaker` opens a span `agentarmour.breaker` per call */
  trace: Schema.optionalWith(Schema.Boolean, { default: () => false, exact: true })
}) {}

/**
 * The options accepted by `CircuitBreaker.make` (all but `name` optional).
 */
export interface BreakerOptions {
  readonly name: string
  readonly failureThreshold?: number | undefined
  readonly windowSize?: Duration.DurationInput | undefined
  readonly recoveryTimeout?: Duration.DurationInput | undefined
  readonly halfOpenMaxCalls?: number | undefined
  readonly callTimeout?: Duration.DurationInput | null | undefined
  readonly enabled?: boolean | undefined
  readonly failureRateThreshold?: number | undefined
  readonly minimumCalls?: number | undefined
  readonly slowCallDuration?: Duration.DurationInput | undefined
  readonly slowCallRateThreshold?: number | undefined
  readonly recoveryBackoff?: Schedule.Schedule<unknown, unknown> | undefined
  readonly isFailure?: ((cause: Cause.Cause<unknown>) => boolean) | undefined
  readonly failureMode?: "window" | "consecutive" | undefined
  readonly countWindow?: number | undefined
  readonly halfOpenSuccesses?: number | undefined
  readonly halfOpenTimeout?: Duration.DurationInput | undefined
  readonly autoHalfOpen?: boolean | undefined
  readonly validateResult?: ((value: unknown) => boolean | string) | undefined
  readonly maxConcurrent?: number | undefined
  readonly maxQueued?: number | undefined
  readonly trace?: boolean | undefined
}

const decodeConfig = Schema.decodeUnknown(BreakerConfig, { errors: "all", onExcessProperty: "error" })

/**
 * Decodes options into a `BreakerConfig`, failing with a `ParseError` whose
 * message names every bad field.
 */
export const decode = (
  options: BreakerOptions | BreakerConfig
): Effect.Effect<BreakerConfig, ParseResult.ParseError> => {
  if (options instanceof BreakerConfig) return Effect.succeed(options)
  // `undefined` means "use the default", as with optional properties in TS
  const defined: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(options as object)) if (v !== undefined) defined[k] = v
  return decodeConfig(defined)
}
