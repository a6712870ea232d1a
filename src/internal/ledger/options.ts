/**
 * The options of the SQL ledger.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import type * as Schedule from "effect/Schedule"

/**
 * Options of the SQL ledger.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqlOptions {
  /** prefix of the table names, default `cb_` */
  readonly tablePrefix?: string | undefined
  /** capacity of the write queue; when full the oldest records are dropped and counted (default 100,000) */
  readonly queueCapacity?: number | undefined
  /** records written per transaction (default 1,000) */
  readonly batchSize?: number | undefined
  /** closing the layer's scope (and `flush`) waits at most this long for the database (default 10 seconds) */
  readonly flushTimeout?: Duration.DurationInput | undefined
  /** delete records older than this (`30d`, `12h`, `90m` or a `Duration`) in the background, on the `Clock`; default: keep everything */
  readonly retention?: Duration.DurationInput | string | undefined
  /** how often the background pruning runs when `retention` is set (default 1 hour) */
  readonly pruneInterval?: Duration.DurationInput | undefined
  /** how a database that cannot be opened is retried (default: exponential from 1 second, capped at 1 minute) */
  readonly reopenSchedule?: Schedule.Schedule<unknown> | undefined
  /**
   * how a failed batch write is retried before its records are counted dropped
   * (default: exponential from 20 ms, at most 2 s apart, for up to 30 seconds)
   */
  readonly writeRetry?: Schedule.Schedule<unknown> | undefined
}
