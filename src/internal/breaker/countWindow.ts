/**
 * `countWindow: N`: the rate rules over the last N calls instead of the time
 * window (cockatiel `CountBreaker`, resilience4j COUNT_BASED).
 * `minimumCalls` applies inside these N calls. The state is the last N
 * outcomes (bit 1 failed, bit 2 slow) and their running totals.
 */
import { check, type Thresholds, type Totals } from "./rates.js"
import type { Rule } from "./rule.js"

export interface Window extends Totals {
  readonly outcomes: ReadonlyArray<number>
}

const FAILED = 1
const SLOW = 2

export const make = (size: number, thresholds: Thresholds): Rule<Window> => ({
  empty: { outcomes: [], calls: 0, failures: 0, slow: 0 },
  record: (w, outcome) => {
    const bits = (outcome.failed ? FAILED : 0) | (outcome.slow ? SLOW : 0)
    let { calls, failures, slow } = w
    let outcomes: Array<number>
    if (w.outcomes.length < size) {
      outcomes = [...w.outcomes, bits]
      calls++
    } else {
      const dropped = w.outcomes[0]!
      if (dropped & FAILED) failures--
      if (dropped & SLOW) slow--
      outcomes = [...w.outcomes.slice(1), bits]
    }
    if (outcome.failed) failures++
    if (outcome.slow) slow++
    const next = { outcomes, calls, failures, slow }
    return [next, check(next, thresholds)]
  },
  failures: (w) => w.failures
})
