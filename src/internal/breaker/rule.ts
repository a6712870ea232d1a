/**
 * A counting rule decides, from the outcomes of CLOSED calls, when a breaker
 * trips. Each rule is a pure value: `record` returns the rule's next state and,
 * when it trips, why. Rules live one per file (`timeWindow`, `consecutive`,
 * `rates`, `countWindow`), as cockatiel keeps its `IBreaker`s.
 */

/** one finished call, as the rules see it */
export interface Outcome {
  readonly failed: boolean
  /** the call ran longer than `slowCallDuration` (successes and failures alike) */
  readonly slow: boolean
}

export interface Rule<S> {
  /** the state of a fresh (or reset) window */
  readonly empty: S
  /** records one call at `now`; the reason is defined when the rule trips */
  readonly record: (state: S, outcome: Outcome, now: number) => readonly [S, string | undefined]
  /** failures this rule counts at `now` (for `metrics.failureCount`) */
  readonly failures: (state: S, now: number) => number
}

/** a rule whose state type is forgotten, so that rules of several kinds sit in one array */
export type AnyRule = Rule<any>

export const formatMillis = (ms: number): string => {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`
  return `${ms}ms`
}

export const percent = (rate: number): string => `${(rate * 100).toFixed(0)}%`
