/**
 * From a decoded `BreakerConfig` to the `Machine` the state machine runs
 * (`machine.ts`): the counting rules the options ask for, and the defaults
 * that depend on other options (the slow-call rate when `slowCallDuration`
 * is set, `halfOpenTimeout` from `callTimeout`), in milliseconds. The one
 * place where options become rules.
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

import type { BreakerConfig } from "./config.js"
import * as consecutive from "./consecutive.js"
import * as countWindow from "./countWindow.js"
import type * as Machine from "./machine.js"
import * as rates from "./rates.js"
import type { AnyRule } from "./rule.js"
import * as timeWindow from "./timeWindow.js"

/** the default `halfOpenTimeout` when `callTimeout` is `null` */
export const DEFAULT_HALF_OPEN_TIMEOUT = Duration.seconds(60)

/** `halfOpenTimeout`, else `callTimeout`, else 60 seconds */
export const halfOpenTimeoutOf = (config: BreakerConfig): Duration.Duration =>
  Duration.decode(config.halfOpenTimeout ?? config.callTimeout ?? DEFAULT_HALF_OPEN_TIMEOUT)

/** the slow-call rate that trips: `slowCallRateThreshold`, 1 when only `slowCallDuration` is set */
export const slowRateOf = (config: BreakerConfig): number | undefined =>
  config.slowCallDuration === undefined ? undefined : (config.slowCallRateThreshold ?? 1)

/**
 * The rules, in order: the failure threshold (`failureMode`: a time window or
 * a run of consecutive failures), then the rate rules when a rate is asked for
 * (over `countWindow` calls, else over `windowSize`). The first rule's count is
 * `metrics.failureCount`.
 */
export const rulesOf = (config: BreakerConfig, windowMillis: number): ReadonlyArray<AnyRule> => {
  const threshold = config.failureMode === "consecutive"
    ? consecutive.make(config.failureThreshold)
    : timeWindow.make(config.failureThreshold, windowMillis)
  const slowRate = slowRateOf(config)
  if (config.failureRateThreshold === undefined && slowRate === undefined) return [threshold]
  const thresholds = { minimumCalls: config.minimumCalls, failureRate: config.failureRateThreshold, slowRate }
  return [
    threshold,
    config.countWindow !== undefined
      ? countWindow.make(config.countWindow, thresholds)
      : rates.make(windowMillis, thresholds)
  ]
}

/** delays added to the recovery timeout after the 1st, 2nd, ... failed probe (at most 64), in millis */
export const backoffOf = (config: BreakerConfig): ReadonlyArray<number> =>
  config.recoveryBackoff === undefined ? [] : Chunk.toReadonlyArray(
    Effect.runSync(
      Schedule.run(Schedule.delays(config.recoveryBackoff), 0, Array.from({ length: 64 }, () => undefined)).pipe(
        Effect.orElseSucceed(() => Chunk.empty<Duration.Duration>())
      )
    )
  ).map(Duration.toMillis)

/**
 * Machines are pure values: breakers configured alike share one (10,000
 * breakers of a registry share the defaults' machine).
 */
const machines = new Map<string, Machine.Machine>()

/** the machine of a breaker configured so */
export const machineOf = (config: BreakerConfig): Machine.Machine => {
  const backoff = backoffOf(config)
  const windowMillis = Duration.toMillis(config.windowSize)
  const halfOpenTimeoutMillis = Duration.toMillis(halfOpenTimeoutOf(config))
  const key = [
    config.failureMode,
    config.failureThreshold,
    windowMillis,
    config.failureRateThreshold,
    slowRateOf(config),
    config.minimumCalls,
    config.countWindow,
    Duration.toMillis(config.recoveryTimeout),
    config.halfOpenMaxCalls,
    config.halfOpenSuccesses,
    halfOpenTimeoutMillis,
    backoff.join(",")
  ].join("|")
  const known = machines.get(key)
  if (known !== undefined) return known
  const machine: Machine.Machine = {
    rules: rulesOf(config, windowMillis),
    recoveryMillis: Duration.toMillis(config.recoveryTimeout),
    backoffMillis: (n) => backoff.length === 0 ? 0 : backoff[Math.min(n, backoff.length) - 1] ?? 0,
    halfOpenMaxCalls: config.halfOpenMaxCalls,
    halfOpenSuccesses: config.halfOpenSuccesses,
    halfOpenTimeoutMillis
  }
  if (machines.size < 1000) machines.set(key, machine)
  return machine
}

/**
 * Whether a CLOSED success changes the machine: it does for a run of
 * consecutive failures and for the rate rules; a plain time window counts
 * failures only, so the shell skips the machine on a fast success.
 */
export const successMatters = (config: BreakerConfig, machine: Machine.Machine): boolean =>
  machine.rules.length > 1 || config.failureMode === "consecutive"
