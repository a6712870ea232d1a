/**
 * `failureMode: "consecutive"`: `failureThreshold` failures in a row trip the
 * breaker; any success resets the count (cockatiel `ConsecutiveBreaker`,
 * Polly's classic breaker). The state is the current run of failures.
 */
import type { Rule } from "./rule.js"

export const make = (threshold: number): Rule<number> => ({
  empty: 0,
  record: (run, outcome) => {
    if (!outcome.failed) return [0, undefined]
    const next = run + 1
    return [next, next >= threshold ? `${threshold} consecutive failures` : undefined]
  },
  failures: (run) => run
})
