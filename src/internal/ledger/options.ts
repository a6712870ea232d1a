/**
 * The options of the SQL ledger.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

import * as duration from "../duration.js"
import { decodeTablePrefix } from "../tablePrefix.js"
import type { TablePrefix } from "../tablePrefix.js"
import { parseAge } from "./age.js"
import { LedgerError } from "./records.js"

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

/**
 * The ledger's duration options, decoded strictly: negative, NaN, infinite and
 * unparsable values are a `ParseError` naming the option, and so is a
 * `pruneInterval` of 0 (an interval of 0 would prune in a busy loop).
 */
const decodeDurations = (owner: string, options: SqlOptions) =>
  Either.flatMap(
    duration.decodeOptions(owner, {
      flushTimeout: options.flushTimeout ?? "10 seconds",
      pruneInterval: options.pruneInterval ?? "1 hour"
    }),
    (d) =>
      Duration.toMillis(d.pruneInterval) > 0
        ? Either.right(d)
        : Either.left(
          ParseResult.parseError(
            new ParseResult.Type(
              Schema.Unknown.ast,
              options.pruneInterval,
              `${owner}: pruneInterval must be a positive interval, got ${String(options.pruneInterval)}`
            )
          )
        )
  )

/** the default reopen schedule: exponential from 1 second, capped at 1 minute */
export const defaultReopenSchedule: Schedule.Schedule<unknown> = Schedule.exponential("1 second").pipe(
  Schedule.union(Schedule.spaced("1 minute"))
)

/** the default write retry: exponential from 20 ms, at most 2 s apart, for up to 30 seconds */
export const defaultWriteRetry: Schedule.Schedule<unknown> = Schedule.exponential("20 millis").pipe(
  Schedule.union(Schedule.spaced("2 seconds")),
  Schedule.upTo("30 seconds")
)

/** the options of an SQL ledger, decoded, defaults applied */
export interface DecodedOptions {
  readonly prefix: TablePrefix
  readonly flushTimeout: Duration.Duration
  readonly pruneInterval: Duration.Duration
  /** `undefined`: no retention */
  readonly retention: Duration.Duration | undefined
  readonly reopenSchedule: Schedule.Schedule<unknown>
  readonly writeRetry: Schedule.Schedule<unknown>
  readonly queueCapacity: number
  readonly batchSize: number
}

/**
 * Decodes the options of an SQL ledger (`owner` names the API in messages):
 * a bad `tablePrefix`, `retention`, `queueCapacity` or `batchSize` is a
 * `LedgerError` naming it, a bad duration a `ParseError` naming it.
 */
export const decodeOptions = (
  owner: string,
  options: SqlOptions
): Effect.Effect<DecodedOptions, LedgerError | ParseResult.ParseError> =>
  Effect.gen(function*() {
    const prefix = yield* decodeTablePrefix(options.tablePrefix)
    const { flushTimeout, pruneInterval } = yield* decodeDurations(owner, options)
    const retention = options.retention === undefined ? undefined : parseAge(options.retention)
    if (retention !== undefined && Option.isNone(retention)) {
      return yield* new LedgerError({
        message: `retention must be a duration such as "30 days", got ${JSON.stringify(options.retention)}`
      })
    }
    for (const field of ["queueCapacity", "batchSize"] as const) {
      const value = options[field]
      if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
        return yield* new LedgerError({
          message: `${field} must be a whole number of at least 1, got ${String(value)}`
        })
      }
    }
    return {
      prefix,
      flushTimeout,
      pruneInterval,
      retention: retention === undefined ? undefined : retention.value,
      reopenSchedule: options.reopenSchedule ?? defaultReopenSchedule,
      writeRetry: options.writeRetry ?? defaultWriteRetry,
      queueCapacity: options.queueCapacity ?? 100_000,
      batchSize: options.batchSize ?? 1_000
    }
  })
