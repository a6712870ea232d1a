/**
 * The rate rules over the time window: the failure rate
 * (`failureRateThreshold`) and the slow-call rate (`slowCallRateThreshold`),
 * checked after every call once `minimumCalls` calls fall in `windowSize`.
 * Calls are kept in 20 time buckets, so the window slides in steps of
 * `windowSize / 20` and memory stays constant. `countWindow` swaps these
 * buckets for the last N calls (`countWindow.ts`); the check is shared.
 */
import { type Outcome, percent, type Rule } from "./rule.js"

export interface Thresholds {
  readonly minimumCalls: number
  readonly failureRate: number | undefined
  readonly slowRate: number | undefined
}

export interface Totals {
  readonly calls: number
  readonly failures: number
  readonly slow: number
}

/** the reason the rates trip the breaker, if they do */
export const check = (totals: Totals, t: Thresholds): string | undefined => {
  if (totals.calls < t.minimumCalls) return undefined
  if (t.failureRate !== undefined && totals.failures / totals.calls >= t.failureRate) {
    return `failure rate ${percent(totals.failures / totals.calls)} over ${totals.calls} calls reached ${
      percent(t.failureRate)
    }`
  }
  if (t.slowRate !== undefined && totals.slow / totals.calls >= t.slowRate) {
    return `slow-call rate ${percent(totals.slow / totals.calls)} over ${totals.calls} calls reached ${
      percent(t.slowRate)
    }`
  }
  return undefined
}

const BUCKETS = 20

interface Bucket extends Totals {
  readonly start: number
}

export type Buckets = ReadonlyArray<Bucket | undefined>

const add = (b: Bucket, o: Outcome): Bucket => ({
  start: b.start,
  calls: b.calls + 1,
  failures: b.failures + (o.failed ? 1 : 0),
  slow: b.slow + (o.slow ? 1 : 0)
})

export const make = (windowMillis: number, thresholds: Thresholds): Rule<Buckets> => {
  const width = Math.max(1, windowMillis / BUCKETS)
  const totals = (buckets: Buckets, now: number): Totals => {
    let calls = 0, failures = 0, slow = 0
    for (const b of buckets) {
      if (b !== undefined && now - b.start < windowMillis) {
        calls += b.calls
        failures += b.failures
        slow += b.slow
      }
    }
    return { calls, failures, slow }
  }
  return {
    empty: [],
    record: (buckets, outcome, now) => {
      const start = Math.floor(now / width) * width
      const i = Math.floor(start / width) % BUCKETS
      const current = buckets[i]
      const next = buckets.slice()
      next[i] = add(
        current !== undefined && current.start === start ? current : { start, calls: 0, failures: 0, slow: 0 },
        outcome
      )
      return [next, check(totals(next, now), thresholds)]
    },
    failures: (buckets, now) => totals(buckets, now).failures
  }
}
