/**
 * The breaker's state machine, as pure functions: `step(machine, state,
 * event, now)` returns the next state and the transitions it made, and
 * `admit` decides whether a call may run. No clock, no fibers, no ledger:
 * the Effect shell (`../circuitBreaker.ts`) owns the state, reads the clock,
 * and publishes the transitions this module returns. `fromConfig.ts` turns
 * a decoded `BreakerConfig` into the `Machine` (the rules) used here.
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
 * The state is a union with one member per status, each holding only what
 * means something in that status (as cockatiel's `InnerState`); every
 * transition is a small function below that builds the next member.
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

/** HALF_OPEN episodes so far, in every status: a new episode never takes the number of an old one */
interface Episodes {
  readonly episode: number
}

/** calls run and are counted by the rules */
export interface Closed extends Episodes {
  readonly status: "CLOSED"
  /** one state per rule, in `Machine.rules` order (cleared on every close) */
  readonly counts: ReadonlyArray<unknown>
}

/** calls are rejected until `retryAt` */
export interface Open extends Episodes {
  readonly status: "OPEN"
  readonly openedAt: number
  /** when the next call becomes a probe; `Infinity` when forced open */
  readonly retryAt: number
  /** failed probes since the breaker last closed, for `recoveryBackoff` */
  readonly failedProbes: number
}

/** up to `halfOpenMaxCalls` probes run; the others are rejected */
export interface HalfOpen extends Episodes {
  readonly status: "HALF_OPEN"
  /** the OPEN period this episode follows (`metrics.openedAt`, the shared state) */
  readonly openedAt: number
  readonly retryAt: number
  readonly failedProbes: number
  /** probes running in this episode */
  readonly probes: number
  /** probes of this episode that succeeded */
  readonly successes: number
  /** when a running probe stops holding the episode (`Infinity` before the first probe) */
  readonly halfOpenUntil: number
}

/** calls fail with `CircuitIsolatedError` while `isolate` scopes are open */
export interface Isolated extends Episodes {
  readonly status: "ISOLATED"
  /** open `isolate` scopes */
  readonly isolations: number
  /** what `forceOpen`/`disable`/`reset` asked for while isolated */
  readonly afterIsolation: Deferred
}

/** calls pass through, nothing is counted */
export interface Disabled extends Episodes {
  readonly status: "DISABLED"
}

export type State = Closed | Open | HalfOpen | Isolated | Disabled

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

type RemoteEvent = Extract<Event, { readonly _tag: "Remote" }>

export type Result = readonly [State, ReadonlyArray<Transition>]

export const CLOSED_PERMIT: Permit = { _tag: "Closed" }
const PASS_THROUGH: Admission = { _tag: "PassThrough" }
const ISOLATED: Admission = { _tag: "Isolated" }
const NONE: ReadonlyArray<Transition> = []

const unchanged = (s: State): Result => [s, NONE]

const transition = (from: BreakerState, to: BreakerState, reason: string, at: number, synced = false): Transition => ({
  from,
  to,
  reason,
  at,
  synced
})

// --- the states ---

const closedState = (m: Machine, episode: number): Closed => ({
  status: "CLOSED",
  episode,
  counts: m.rules.map((r) => r.empty)
})

export const initial = (m: Machine): State => closedState(m, 0)

/** the OPEN period a state is in or follows (zeros when there is none), as the shared state stores it */
export const openedAt = (s: State): number => s.status === "OPEN" || s.status === "HALF_OPEN" ? s.openedAt : 0
export const retryAt = (s: State): number => s.status === "OPEN" || s.status === "HALF_OPEN" ? s.retryAt : 0

const failedProbesOf = (s: State): number => s.status === "OPEN" || s.status === "HALF_OPEN" ? s.failedProbes : 0

// --- the transitions, one function each ---

/** -> CLOSED, window cleared (a CLOSED breaker gets a fresh window and no transition) */
const toClosed = (m: Machine, s: State, reason: string, now: number, synced = false): Result => [
  closedState(m, s.episode),
  s.status === "CLOSED" ? NONE : [transition(s.status, "CLOSED", reason, now, synced)]
]

/** -> OPEN until the recovery timeout (grown by the backoff after failed probes) has passed */
const toOpen = (m: Machine, s: State, reason: string, now: number, failedProbes: number): Result => [
  {
    status: "OPEN",
    episode: s.episode,
    openedAt: now,
    retryAt: now + m.recoveryMillis + (failedProbes > 0 ? m.backoffMillis(failedProbes) : 0),
    failedProbes
  },
  [transition(s.status, "OPEN", reason, now)]
]

/** -> OPEN until `reset` (`forceOpen`) */
const toForcedOpen = (s: State, reason: string, now: number): Result => [
  { status: "OPEN", episode: s.episode, openedAt: now, retryAt: Infinity, failedProbes: 0 },
  [transition(s.status, "OPEN", reason, now)]
]

/** -> OPEN as another process opened it */
const toRemoteOpen = (s: Closed | HalfOpen, event: RemoteEvent, now: number): Result => [
  {
    status: "OPEN",
    episode: s.episode,
    openedAt: event.openedAt,
    retryAt: event.retryAt,
    failedProbes: failedProbesOf(s)
  },
  [transition(s.status, "OPEN", "opened by another process", now, true)]
]

/** OPEN -> HALF_OPEN: a new episode, no probe yet */
const toHalfOpen = (s: Open, now: number): Result => [
  {
    status: "HALF_OPEN",
    episode: s.episode + 1,
    openedAt: s.openedAt,
    retryAt: s.retryAt,
    failedProbes: s.failedProbes,
    probes: 0,
    successes: 0,
    halfOpenUntil: Infinity
  },
  [transition("OPEN", "HALF_OPEN", `recovery timeout of ${formatMillis(s.retryAt - s.openedAt)} elapsed`, now)]
]

/** HALF_OPEN -> OPEN: a probe failed, or none decided in time */
const reopen = (m: Machine, s: HalfOpen, reason: string, now: number): Result =>
  toOpen(m, s, reason, now, s.failedProbes + 1)

const toDisabled = (s: State, reason: string, now: number): Result => [
  { status: "DISABLED", episode: s.episode },
  [transition(s.status, "DISABLED", reason, now)]
]

const toIsolated = (s: State, now: number): Result => [
  { status: "ISOLATED", episode: s.episode, isolations: 1, afterIsolation: "CLOSED" },
  [transition(s.status, "ISOLATED", "isolated", now)]
]

/** the last isolate scope closed: to what was asked for meanwhile */
const endIsolation = (m: Machine, s: Isolated, now: number): Result => {
  switch (s.afterIsolation) {
    case "CLOSED":
      return toClosed(m, s, "isolation ended", now)
    case "OPEN":
      return toForcedOpen(s, "isolation ended; forced open", now)
    case "DISABLED":
      return toDisabled(s, "isolation ended; disabled", now)
  }
}

/** an isolated breaker remembers what an operator asked for */
const defer = (s: Isolated, afterIsolation: Deferred): Result => [{ ...s, afterIsolation }, NONE]

// --- within a status ---

/** HALF_OPEN: one more probe runs; the first one starts the halfOpenTimeout */
const takeProbe = (m: Machine, s: HalfOpen, now: number): HalfOpen => ({
  ...s,
  probes: s.probes + 1,
  halfOpenUntil: s.probes === 0 && s.halfOpenUntil === Infinity ? now + m.halfOpenTimeoutMillis : s.halfOpenUntil
})

/** HALF_OPEN: a probe succeeded; enough of them close the breaker */
const probeSucceeded = (m: Machine, s: HalfOpen, now: number): Result => {
  const successes = s.successes + 1
  if (successes >= m.halfOpenSuccesses) {
    return toClosed(m, s, successes === 1 ? "probe succeeded" : `${successes} probes succeeded`, now)
  }
  return [{ ...s, probes: s.probes - 1, successes }, NONE]
}

/** CLOSED: the rules count one call; the first rule that trips opens the breaker */
const count = (m: Machine, s: State, outcome: Outcome, detail: string, now: number): Result => {
  if (s.status !== "CLOSED") return unchanged(s)
  const counts = s.counts.slice()
  let reason: string | undefined
  for (let i = 0; i < m.rules.length; i++) {
    const [next, trip] = m.rules[i]!.record(s.counts[i], outcome, now)
    counts[i] = next
    if (reason === undefined && trip !== undefined) reason = trip
  }
  if (reason !== undefined) return toOpen(m, s, outcome.failed ? `${reason}; last: ${detail}` : reason, now, 0)
  return [{ ...s, counts }, NONE]
}

/** the time-driven transitions due at `now` (none when nothing is due) */
const due = (m: Machine, s: State, now: number): Result => {
  if (s.status === "OPEN") return now >= s.retryAt ? toHalfOpen(s, now) : unchanged(s)
  if (s.status === "HALF_OPEN" && s.probes > 0 && now >= s.halfOpenUntil) {
    return reopen(m, s, `no probe decided within halfOpenTimeout of ${formatMillis(m.halfOpenTimeoutMillis)}`, now)
  }
  return unchanged(s)
}

/** applies the due transitions, then `f`, and concatenates their transitions */
const after = (m: Machine, s: State, now: number, f: (s: State) => Result): Result => {
  const [s1, t1] = due(m, s, now)
  const [s2, t2] = f(s1)
  return t1.length === 0 ? [s2, t2] : t2.length === 0 ? [s2, t1] : [s2, [...t1, ...t2]]
}

/** the HALF_OPEN state a probe permit belongs to, if its episode is the one running now */
const episodeOf = (s: State, permit: Permit): HalfOpen | undefined =>
  permit._tag === "Probe" && s.status === "HALF_OPEN" && s.episode === permit.episode ? s : undefined

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
      return [{ _tag: "Probe", episode: s1.episode }, takeProbe(m, s1, now), ts]
    }
  }
}

// --- the events ---

const onSuccess = (m: Machine, s: State, permit: Permit, slow: boolean, now: number): Result =>
  after(m, s, now, (s) => {
    if (permit._tag === "Closed") return count(m, s, { failed: false, slow }, "", now)
    const episode = episodeOf(s, permit)
    return episode === undefined ? unchanged(s) : probeSucceeded(m, episode, now)
  })

const onFailure = (m: Machine, s: State, permit: Permit, slow: boolean, detail: string, now: number): Result =>
  after(m, s, now, (s) => {
    if (permit._tag === "Closed") return count(m, s, { failed: true, slow }, detail, now)
    const episode = episodeOf(s, permit)
    return episode === undefined ? unchanged(s) : reopen(m, episode, `probe failed: ${detail}`, now)
  })

const onRelease = (m: Machine, s: State, permit: Permit, now: number): Result =>
  after(m, s, now, (s) => {
    const episode = episodeOf(s, permit)
    return episode === undefined ? unchanged(s) : [{ ...episode, probes: episode.probes - 1 }, NONE]
  })

const onReset = (m: Machine, s: State, now: number): Result =>
  s.status === "ISOLATED" ? defer(s, "CLOSED") : toClosed(m, s, "reset", now)

const onForceOpen = (s: State, now: number): Result => {
  if (s.status === "ISOLATED") return defer(s, "OPEN")
  if (s.status === "OPEN" && s.retryAt === Infinity) return unchanged(s)
  return toForcedOpen(s, "forced open", now)
}

const onDisable = (s: State, now: number): Result => {
  if (s.status === "ISOLATED") return defer(s, "DISABLED")
  if (s.status === "DISABLED") return unchanged(s)
  return toDisabled(s, "disabled", now)
}

const onEnable = (m: Machine, s: State, now: number): Result => {
  if (s.status === "ISOLATED") return defer(s, s.afterIsolation === "DISABLED" ? "CLOSED" : s.afterIsolation)
  return s.status === "DISABLED" ? toClosed(m, s, "enabled", now) : unchanged(s)
}

const onIsolate = (s: State, now: number): Result =>
  s.status === "ISOLATED" ? [{ ...s, isolations: s.isolations + 1 }, NONE] : toIsolated(s, now)

const onUnisolate = (m: Machine, s: State, now: number): Result => {
  if (s.status !== "ISOLATED") return unchanged(s)
  if (s.isolations > 1) return [{ ...s, isolations: s.isolations - 1 }, NONE]
  return endIsolation(m, s, now)
}

/** another process's state applies only when newer than ours, and never to an isolated or disabled breaker */
const onRemote = (m: Machine, s: State, event: RemoteEvent, now: number): Result => {
  if (s.status === "ISOLATED" || s.status === "DISABLED") return unchanged(s)
  if (event.to === "OPEN") {
    if (s.status === "OPEN" || event.updatedAt < openedAt(s)) return unchanged(s)
    return toRemoteOpen(s, event, now)
  }
  if (event.updatedAt <= openedAt(s)) return unchanged(s)
  return toClosed(m, s, "closed by another process", now, true)
}

export const step = (m: Machine, s: State, event: Event, now: number): Result => {
  switch (event._tag) {
    case "Success":
      return onSuccess(m, s, event.permit, event.slow, now)
    case "Failure":
      return onFailure(m, s, event.permit, event.slow, event.detail, now)
    case "Release":
      return onRelease(m, s, event.permit, now)
    case "Tick":
      return due(m, s, now)
    case "Reset":
      return onReset(m, s, now)
    case "ForceOpen":
      return onForceOpen(s, now)
    case "Disable":
      return onDisable(s, now)
    case "Enable":
      return onEnable(m, s, now)
    case "Isolate":
      return onIsolate(s, now)
    case "Unisolate":
      return onUnisolate(m, s, now)
    case "Remote":
      return onRemote(m, s, event, now)
  }
}

/** failures counted by the rules now (CLOSED only) */
export const failureCount = (m: Machine, s: State, now: number): number => {
  if (s.status !== "CLOSED" || m.rules.length === 0) return 0
  return m.rules[0]!.failures(s.counts[0], now)
}
