/**
 * `failureMode: "window"` (the default): the breaker trips when
 * `failureThreshold` failures fall inside the sliding `windowSize`.
 *
 * The state is the newest `threshold` failure times, oldest first: exact, and
 * bounded by `failureThreshold` (at most 100) whatever the traffic.
 * Successes do not erase failures; the window does.
 */
import { formatMillis, type Rule } from "./rule.js"

export const make = (threshold: number, windowMillis: number): Rule<ReadonlyArray<number>> => ({
  empty: [],
  record: (times, outcome, now) => {
    if (!outcome.failed) return [times, undefined]
    const next = times.length < threshold ? [...times, now] : [...times.slice(1), now]
    const tripped = next.length === threshold && now - next[0]! < windowMillis
    return [next, tripped ? `${threshold} failures within ${formatMillis(windowMillis)}` : undefined]
  },
  failures: (times, now) => {
    let n = 0
    for (const t of times) if (now - t < windowMillis) n++
    return n
  }
})
