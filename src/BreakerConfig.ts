/**
 * The options of a circuit breaker, decoded with Schema: defaults applied,
 * bad input rejected with a `ParseError` whose message names the field.
 *
 * The implementation lives in `internal/breaker/config.ts`.
 *
 * @since 0.1.0
 */
export {
  /**
   * The decoded configuration of a breaker. Defaults follow the Python
   * original: 3 failures within 60 s trip it, it stays OPEN 30 s, one probe at
   * a time in HALF_OPEN, calls time out after 30 s.
   *
   * @since 0.1.0
   * @category models
   */
  BreakerConfig,
  /**
   * A breaker's name, as `isBreakerName` says.
   *
   * @since 0.2.1
   * @category schemas
   */
  BreakerName,
  /**
   * Decodes options into a `BreakerConfig`, failing with a `ParseError` whose
   * message names every bad field.
   *
   * @since 0.1.0
   * @category constructors
   */
  decode,
  /**
   * A `Duration.DurationInput` ("30 seconds", 5000 millis, a `Duration`)
   * decoded to a `Duration`; negative, NaN, infinite and unparsable inputs are
   * refused (the strict schema every duration option of the library uses).
   *
   * @since 0.1.0
   * @category schemas
   */
  DurationInput,
  /**
   * Whether `name` can name a breaker: 1 to 200 characters, none of them a NUL
   * or another control character (the ledger, the dashboard, Postgres and the
   * metrics all carry it).
   *
   * @since 0.2.1
   * @category guards
   */
  isBreakerName,
  /**
   * A `DurationInput` greater than zero (a window of 0 could never hold a failure).
   *
   * @since 0.2.0
   * @category schemas
   */
  PositiveDurationInput
} from "./internal/breaker/config.js"

export type {
  /**
   * The options accepted by `CircuitBreaker.make` (all but `name` optional).
   *
   * @since 0.1.0
   * @category models
   */
  BreakerOptions
} from "./internal/breaker/config.js"
