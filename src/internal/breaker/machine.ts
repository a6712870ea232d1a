/**
 * The breaker's state machine, as pure functions: `step(machine, state,
 * event, now)` returns the next state and the transitions it made, and
 * `admit` decides whether a call may run. No clock, no fibers, no ledger:
 * the Effect shell (`../circuitBreaker.ts`) owns the state, reads the clock,
 * and publishes the transitions this module returns.
 *
 * ```
 *            failures trip           recoveryTimeout            halfOpenSuccesses probes succeed
 *   CLOSED ────────────────▶ OPEN ───────────────▶ HALF_OPEN ────────────────────────────────▶ CLOSED
 *                             ▲                        │ a probe fails, or halfOpenTimeout passes
 *                             └────────────────────────┘
 *   isolate ─▶ ISOLATED (until the last isolate scope closes) ─▶ CLOSED
 *   disable ─▶ DISABLED (until enable) ─▶ CLOSED
 * ```
 *
 * A probe permit carries its HALF_OPEN episode: a probe that ends after its
 * episode did (the breaker reopened, closed, or timed the episode out) can
 * neither free a permit nor decide the current episode.
 */
import type { BreakerState } from "../../Ledger.js"
import { type AnyRule, formatMillis, type Outcome } from "./rule.js"

/** what the machine needs from the configuration, in milliseconds */
export interface Machine {
  readonly rules: ReadonlyArray<AnyRule>
  readonly recoveryMillis: number
  /** delay added to the recovery timeout after the n-th failed probe (n >= 1) */
  readonly backoffMillis: (failedProbes: number) => number
  readonly halfOpenMaxCalls: number
  readonly halfOpenSuccesses: number
  readonly halfOpenTimeoutMillis: number
}

/** a state an operator asked for while the breaker was isolated, applied when isolation ends */
export type Deferred = "CLOSED" | "OPEN" | "DISABLED"

export interface State {
  readonly status: BreakerState
  /** one state per rule, in `Machine.rules` order (CLOSED only; cleared on every close) */
  readonly counts: ReadonlyArray<unknown>
  readonly openedAt: number
  /** OPEN: when the next call becomes a probe; `Infinity` when forced open */
  readonly retryAt: number
  /** increases on every entry into HALF_OPEN */
  readonly episode: number
  /** HALF_OPEN: probes running in this episode */
  readonly probes: number
  /** HALF_OPEN: probes of this episode that succeeded */
  readonly successes: number
  /** HALF_OPEN: when a running probe stops holding the episode (`Infinity` before the first probe) */
  readonly halfOpenUntil: number
  /** failed probes since the breaker last closed, for `recoveryBackoff` */
  readonly failedProbes: number
  /** open `isolate` scopes */
  readonly isolations: number
  /** what `forceOpen`/`disable`/`reset` asked for while isolated */
  readonly afterIsolation: Deferred
}

export interface Transition {
  readonly from: BreakerState
  readonly to: BreakerState
  readonly reason: string
  readonly at: number
  /** applied from another process's shared state: not published back */
  readonly synced: boolean
}

/** a permit handed out by `admit` */
export type Permit =
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Probe"; readonly episode: number }

export type Admission =
  | Permit
  | { readonly _tag: "PassThrough" }
  | { readonly _tag: "Rejected"; readonly retryAfterMillis: number }
  | { readonly _tag: "Isolated" }

export type Event =
  | { readonly _tag: "Success"; readonly permit: Permit; readonly slow: boolean }
  | { readonly _tag: "Failure"; readonly permit: Permit; readonly slow: boolean; readonly detail: string }
  /** a probe that ended neither way (interrupted, control flow, a failure `isFailure` ignores) */
  | { readonly _tag: "Release"; readonly permit: Permit }
  /** lets time-driven transitions happen: OPEN -> HALF_OPEN, the halfOpenTimeout */
  | { readonly _tag: "Tick" }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "ForceOpen" }
  | { readonly _tag: "Disable" }
  | { readonly _tag: "Enable" }
  | { readonly _tag: "Isolate" }
  | { readonly _tag: "Unisolate" }
  /** another process opened (`retryAt`) or closed the breaker */
  | {
    readonly _tag: "Remote"
    readonly to: "OPEN" | "CLOSED"
    readonly openedAt: number
    readonly retryAt: number
    /** when the other process entered that state: only a state newer than ours applies */
    readonly updatedAt: number
  }

export type Result = readonly [State, ReadonlyArray<Transition>]

export const CLOSED_PERMIT: Permit = { _tag: "Closed" }
const PASS_THROUGH: Admission = { _tag: "PassThrough" }
const ISOLATED: Admission = { _tag: "Isolated" }
const NONE: ReadonlyArray<Transition> = []

export const initial = (m: Machine): State => ({
  status: "CLOSED",
  counts: m.rules.map((r) => r.empty),
  openedAt: 0,
  retryAt: 0,
  episode: 0,
  probes: 0,
  successes: 0,
  halfOpenUntil: Infinity,
  failedProbes: 0,
  isolations: 0,
  afterIsolation: "CLOSED"
})

const transition = (from: BreakerState, to: BreakerState, reason: string, at: number, synced = false): Transition => ({
  from,
  to,
  reason,
  at,
  synced
})

const close = (m: Machine, s: State, reason: string, now: number, synced = false): Result => [
  { ...initial(m), episode: s.episode, isolations: s.isolations },
  s.status === "CLOSED" ? NONE : [transition(s.status, "CLOSED", reason, now, synced)]
]

const open = (m: Machine, s: State, reason: string, now: number, failedProbes: number): Result => [
  {
    ...s,
    status: "OPEN",
    counts: m.rules.map((r) => r.empty),
    openedAt: now,
    retryAt: now + m.recoveryMillis + (failedProbes > 0 ? m.backoffMillis(failedProbes) : 0),
    probes: 0,
    successes: 0,
    halfOpenUntil: Infinity,
    failedProbes
  },
  [transition(s.status, "OPEN", reason, now)]
]

/** the time-driven transitions due at `now` (none when nothing is due) */
const due = (m: Machine, s: State, now: number): Result => {
  if (s.status === "OPEN" && now >= s.retryAt) {
    return [
      { ...s, status: "HALF_OPEN", episode: s.episode + 1, probes: 0, successes: 0, halfOpenUntil: Infinity },
      [transition("OPEN", "HALF_OPEN", `recovery timeout of ${formatMillis(s.retryAt - s.openedAt)} elapsed`, now)]
    ]
  }
  if (s.status === "HALF_OPEN" && s.probes > 0 && now >= s.halfOpenUntil) {
    return open(
      m,
      s,
      `no probe decided within halfOpenTimeout of ${formatMillis(m.halfOpenTimeoutMillis)}`,
      now,
      s.failedProbes + 1
    )
  }
  return [s, NONE]
}

/** applies the due transitions, then `f`, and concatenates their transitions */
const after = (m: Machine, s: State, now: number, f: (s: State) => Result): Result => {
  const [s1, t1] = due(m, s, now)
  const [s2, t2] = f(s1)
  return t1.length === 0 ? [s2, t2] : t2.length === 0 ? [s2, t1] : [s2, [...t1, ...t2]]
}

/** whether a call may run now, and the state after taking its permit */
export const admit = (m: Machine, s: State, now: number): readonly [Admission, State, ReadonlyArray<Transition>] => {
  switch (s.status) {
    case "CLOSED":
      return [CLOSED_PERMIT, s, NONE]
    case "DISABLED":
      return [PASS_THROUGH, s, NONE]
    case "ISOLATED":
      return [ISOLATED, s, NONE]
    default: {
      const [s1, ts] = due(m, s, now)
      if (s1.status === "OPEN") return [{ _tag: "Rejected", retryAfterMillis: Math.max(0, s1.retryAt - now) }, s1, ts]
      if (s1.status !== "HALF_OPEN" || s1.probes >= m.halfOpenMaxCalls) {
        return [{ _tag: "Rejected", retryAfterMillis: 0 }, s1, ts]
      }
      const halfOpenUntil = s1.probes === 0 && s1.halfOpenUntil === Infinity
        ? now + m.halfOpenTimeoutMillis
        : s1.halfOpenUntil
      return [{ _tag: "Probe", episode: s1.episode }, { ...s1, probes: s1.probes + 1, halfOpenUntil }, ts]
    }
  }
}

/** whether a probe permit belongs to the episode running now */
const current = (s: State, permit: Permit): boolean =>
  permit._tag === "Probe" && s.status === "HALF_OPEN" && s.episode === permit.episode

const countClosed = (m: Machine, s: State, outcome: Outcome, detail: string, now: number): Result => {
  if (s.status !== "CLOSED") return [s, NONE]
  const counts = s.counts.slice()
  let reason: string | undefined
  for (let i = 0; i < m.rules.length; i++) {
    const [next, trip] = m.rules[i]!.record(s.counts[i], outcome, now)
    counts[i] = next
    if (reason === undefined && trip !== undefined) reason = trip
  }
  if (reason !== undefined) return open(m, s, outcome.failed ? `${reason}; last: ${detail}` : reason, now, 0)
  return [{ ...s, counts }, NONE]
}

export const step = (m: Machine, s: State, event: Event, now: number): Result => {
  switch (event._tag) {
    case "Success":
      return after(m, s, now, (s) => {
        if (event.permit._tag === "Closed") return countClosed(m, s, { failed: false, slow: event.slow }, "", now)
        if (!current(s, event.permit)) return [s, NONE]
        const successes = s.successes + 1
        if (successes >= m.halfOpenSuccesses) {
          return close(m, s, successes === 1 ? "probe succeeded" : `${successes} probes succeeded`, now)
        }
        return [{ ...s, probes: s.probes - 1, successes }, NONE]
      })
    case "Failure":
      return after(m, s, now, (s) => {
        if (event.permit._tag === "Closed") {
          return countClosed(m, s, { failed: true, slow: event.slow }, event.detail, now)
        }
        if (!current(s, event.permit)) return [s, NONE]
        return open(m, s, `probe failed: ${event.detail}`, now, s.failedProbes + 1)
      })
    case "Release":
      return after(m, s, now, (s) => current(s, event.permit) ? [{ ...s, probes: s.probes - 1 }, NONE] : [s, NONE])
    case "Tick":
      return due(m, s, now)
    case "Reset":
      if (s.status === "ISOLATED") return [{ ...s, afterIsolation: "CLOSED" }, NONE]
      return close(m, s, "reset", now)
    case "ForceOpen":
      if (s.status === "ISOLATED") return [{ ...s, afterIsolation: "OPEN" }, NONE]
      if (s.status === "OPEN" && s.retryAt === Infinity) return [s, NONE]
      return [
        { ...open(m, s, "forced open", now, 0)[0], retryAt: Infinity },
        [transition(s.status, "OPEN", "forced open", now)]
      ]
    case "Disable":
      if (s.status === "ISOLATED") return [{ ...s, afterIsolation: "DISABLED" }, NONE]
      if (s.status === "DISABLED") return [s, NONE]
      return [
        { ...initial(m), status: "DISABLED", episode: s.episode },
        [transition(s.status, "DISABLED", "disabled", now)]
      ]
    case "Enable":
      if (s.status === "ISOLATED") {
        return [{ ...s, afterIsolation: s.afterIsolation === "DISABLED" ? "CLOSED" : s.afterIsolation }, NONE]
      }
      return s.status === "DISABLED" ? close(m, s, "enabled", now) : [s, NONE]
    case "Isolate":
      if (s.status === "ISOLATED") return [{ ...s, isolations: s.isolations + 1 }, NONE]
      return [
        { ...initial(m), status: "ISOLATED", episode: s.episode, isolations: 1 },
        [transition(s.status, "ISOLATED", "isolated", now)]
      ]
    case "Unisolate": {
      if (s.status !== "ISOLATED") return [s, NONE]
      if (s.isolations > 1) return [{ ...s, isolations: s.isolations - 1 }, NONE]
      const released: State = { ...s, isolations: 0 }
      switch (s.afterIsolation) {
        case "CLOSED":
          return close(m, released, "isolation ended", now)
        case "OPEN":
          return [
            { ...open(m, released, "forced open", now, 0)[0], retryAt: Infinity, afterIsolation: "CLOSED" },
            [transition("ISOLATED", "OPEN", "isolation ended; forced open", now)]
          ]
        case "DISABLED":
          return [
            { ...initial(m), status: "DISABLED", episode: s.episode },
            [transition("ISOLATED", "DISABLED", "isolation ended; disabled", now)]
          ]
      }
    }
    // falls through: unreachable, every Deferred is handled above
    case "Remote": {
      if (s.status === "ISOLATED" || s.status === "DISABLED") return [s, NONE]
      if (event.to === "OPEN") {
        if (s.status === "OPEN" || event.updatedAt < s.openedAt) return [s, NONE]
        return [
          {
            ...s,
            status: "OPEN",
            counts: m.rules.map((r) => r.empty),
            openedAt: event.openedAt,
            retryAt: event.retryAt,
            probes: 0,
            successes: 0,
            halfOpenUntil: Infinity
          },
          [transition(s.status, "OPEN", "opened by another process", now, true)]
        ]
      }
      if (event.updatedAt <= s.openedAt) return [s, NONE]
      return close(m, s, "closed by another process", now, true)
    }
  }
}

/** failures counted by the rules now (CLOSED only) */
export const failureCount = (m: Machine, s: State, now: number): number => {
  if (s.status !== "CLOSED" || m.rules.length === 0) return 0
  return m.rules[0]!.failures(s.counts[0], now)
}
