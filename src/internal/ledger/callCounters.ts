/**
 * Per-breaker, per-minute call counters: what `recordCall` and
 * `recordFallback` add to synchronously, until a ledger writes or reads them.
 *
 * @internal
 */
import { CallStats } from "./records.js"
import type { CallRecord } from "./records.js"

const MINUTE_MILLIS = 60_000

/**
 * Start of the minute of `millis`, as an ISO string
 *
 * @since 0.2.0
 */
export const minuteOf = (millis: number): string => new Date(millis - (millis % MINUTE_MILLIS)).toISOString()

/**
 * Per-breaker, per-minute call counters kept in memory until written
 * (`recordCall` and `recordFallback` add to them synchronously).
 *
 * @since 0.2.0
 * @category models
 */
export interface CallCounter {
  readonly breakerName: string
  readonly minute: string
  calls: number
  failures: number
  rejections: number
  timeouts: number
  slowCalls: number
  fallbacks: Record<string, number>
}

/** @internal adds one call or fallback to the counters of its breaker and minute */
export const countCall = (
  counters: Map<string, CallCounter>,
  breakerName: string,
  at: Date,
  add: (c: CallCounter) => void
): void => {
  const m = Math.floor(at.getTime() / MINUTE_MILLIS)
  const key = `${breakerName}\u0000${m}`
  let c = counters.get(key)
  if (c === undefined) {
    const minute = minuteOf(m * MINUTE_MILLIS)
    c = { breakerName, minute, calls: 0, failures: 0, rejections: 0, timeouts: 0, slowCalls: 0, fallbacks: {} }
    counters.set(key, c)
  }
  add(c)
}

/** @internal how a call's outcome adds to its minute */
export const addCall = (record: CallRecord) => (c: CallCounter): void => {
  switch (record.outcome) {
    case "rejected":
      c.rejections++
      return
    case "failure":
      c.failures++
      break
    case "timeout":
      c.timeouts++
      break
  }
  c.calls++
  if (record.slow) c.slowCalls++
}

/** @internal how a fallback adds to its minute */
export const addFallback = (strategy: string) => (c: CallCounter): void => {
  c.fallbacks[strategy] = (c.fallbacks[strategy] ?? 0) + 1
}

/** @internal one row of call statistics */
export const callStatsOf = (c: Omit<CallCounter, "minute"> & { readonly minute: Date }): CallStats =>
  new CallStats({
    breakerName: c.breakerName,
    minute: c.minute,
    calls: c.calls,
    failures: c.failures,
    rejections: c.rejections,
    timeouts: c.timeouts,
    slowCalls: c.slowCalls,
    fallbacks: c.fallbacks
  }, true)
