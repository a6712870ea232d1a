import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import { globalValue } from "effect/GlobalValue"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { BreakerConfig } from "../BreakerConfig.js"
import { CallTimeoutError, CircuitOpenError } from "./errors.js"
import type { BreakerMetrics, BreakerState } from "../CircuitBreaker.js"
import * as Ledger from "../Ledger.js"
import { SharedState } from "./sharedState.js"

/** the breaker's state machine, held in a `Ref` */
interface StateData {
  readonly state: "CLOSED" | "OPEN" | "HALF_OPEN"
  readonly openedAt: number
  /** when an OPEN breaker lets the next call through as a probe */
  readonly retryAt: number
  /** probes running in HALF_OPEN */
  readonly inFlight: number
  /** consecutive failed probes, for `recoveryBackoff` */
  readonly failedProbes: number
}

const CLOSED_STATE: StateData = { state: "CLOSED", openedAt: 0, retryAt: 0, inFlight: 0, failedProbes: 0 }

/**
 * The newest `threshold` failure times. The breaker trips when the ring is
 * full and its oldest entry is still inside the window: exact, and bounded
 * by `failureThreshold` (at most 100) whatever the traffic.
 */
class FailureWindow {
  private readonly times: Float64Array
  private next = 0
  private size = 0
  constructor(readonly threshold: number) {
    this.times = new Float64Array(threshold)
  }
  /** records a failure at `now`; true when `threshold` failures fall inside the window */
  add(now: number, windowMillis: number): boolean {
    this.times[this.next] = now
    this.next = (this.next + 1) % this.threshold
    if (this.size < this.threshold) this.size++
    if (this.size < this.threshold) return false
    // `next` now points at the oldest of the last `threshold` failures
    return now - this.times[this.next]! < windowMillis
  }
  count(now: number, windowMillis: number): number {
    let n = 0
    for (let i = 0; i < this.size; i++) if (now - this.times[i]! < windowMillis) n++
    return n
  }
  clear(): void {
    this.size = 0
    this.next = 0
  }
}

const BUCKETS = 20

/** calls, failures and slow calls per time bucket: the window for the rate rules */
class RateWindow {
  private readonly starts = new Float64Array(BUCKETS).fill(-Infinity)
  private readonly calls = new Float64Array(BUCKETS)
  private readonly failures = new Float64Array(BUCKETS)
  private readonly slow = new Float64Array(BUCKETS)
  private readonly width: number
  constructor(readonly windowMillis: number) {
    this.width = Math.max(1, windowMillis / BUCKETS)
  }
  private bucket(now: number): number {
    const start = Math.floor(now / this.width) * this.width
    const i = Math.floor(start / this.width) % BUCKETS
    if (this.starts[i] !== start) {
      this.starts[i] = start
      this.calls[i] = 0
      this.failures[i] = 0
      this.slow[i] = 0
    }
    return i
  }
  add(now: number, failed: boolean, slow: boolean): void {
    const i = this.bucket(now)
    this.calls[i]!++
    if (failed) this.failures[i]!++
    if (slow) this.slow[i]!++
  }
  totals(now: number): { calls: number; failures: number; slow: number } {
    let calls = 0, failures = 0, slow = 0
    for (let i = 0; i < BUCKETS; i++) {
      if (now - this.starts[i]! < this.windowMillis) {
        calls += this.calls[i]!
        failures += this.failures[i]!
        slow += this.slow[i]!
      }
    }
    return { calls, failures, slow }
  }
  clear(): void {
    this.starts.fill(-Infinity)
  }
}

/** kinds of permit handed out by `acquire` */
const NO_PERMIT = 0
const CLOSED_PERMIT = 1
const PROBE_PERMIT = 2

interface Acquired {
  readonly permit: number
  readonly retryAfterMillis: number
  readonly transition: PendingTransition | undefined
}

interface PendingTransition {
  readonly from: BreakerState
  readonly to: BreakerState
  readonly reason: string
  readonly at: number
  /** applied from the shared state of another process: not published back */
  readonly synced?: boolean
}

const CLOSED_ACQUIRED: Acquired = { permit: CLOSED_PERMIT, retryAfterMillis: 0, transition: undefined }
const PROBE_ACQUIRED: Acquired = { permit: PROBE_PERMIT, retryAfterMillis: 0, transition: undefined }

/**
 * The breaker each failed value passed through (innermost wins), so that a
 * fallback placed after `withBreaker` can name the breaker of a node's own
 * error. Weak: it never keeps an error alive.
 */
const failedThrough = globalValue(Symbol.for("agentarmour/FailedThrough"), () => new WeakMap<object, string>())

const markFailure = (cause: Cause.Cause<unknown>, name: string): void => {
  const failure = Cause.failureOption(cause)
  const value = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (typeof value === "object" && value !== null && !failedThrough.has(value)) failedThrough.set(value, name)
}

/** the breaker a failed value passed through, if known */
export const breakerOfFailure = (value: unknown): string | undefined =>
  typeof value === "object" && value !== null ? failedThrough.get(value) : undefined

const CONTROL_FLOW_NAMES = new Set(["GraphInterrupt", "NodeInterrupt", "ParentCommand", "GraphBubbleUp", "Command"])

/**
 * Errors that are control flow, not failures: LangGraph's `interrupt()` and
 * `Command` navigation throw them from inside a node (`is_bubble_up`), and
 * they must pass through a breaker uncounted.
 */
export const isControlFlow = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null) return false
  const e = error as { readonly is_bubble_up?: unknown; readonly name?: unknown; readonly lg_name?: unknown }
  if (e.is_bubble_up === true) return true
  return (typeof e.lg_name === "string" && CONTROL_FLOW_NAMES.has(e.lg_name)) ||
    (typeof e.name === "string" && CONTROL_FLOW_NAMES.has(e.name) && "is_bubble_up" in e)
}

const causeIsControlFlow = (cause: Cause.Cause<unknown>): boolean => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return isControlFlow(failure.value)
  const defect = Cause.dieOption(cause)
  return Option.isSome(defect) && isControlFlow(defect.value)
}

const describeError = (error: unknown): { readonly type: string; readonly message: string } => {
  if (error instanceof Error || (typeof error === "object" && error !== null)) {
    const e = error as { readonly _tag?: unknown; readonly name?: unknown; readonly message?: unknown }
    const type = typeof e._tag === "string"
      ? e._tag
      : typeof e.name === "string" && e.name.length > 0
      ? e.name
      : (error as object).constructor?.name ?? "Object"
    let message = typeof e.message === "string" ? e.message : ""
    if (message.length === 0) {
      try {
        const json = JSON.stringify(error)
        message = json !== undefined && json !== "{}" ? `${type}: ${json}` : `${type} (no message)`
      } catch {
        message = `${type} (no message)`
      }
    }
    return { type, message }
  }
  const text = String(error)
  return { type: typeof error, message: text.length > 0 ? text : `${typeof error} (empty)` }
}

/** what a failed call becomes in the ledger */
export const failureRecord = (
  breakerName: string,
  cause: Cause.Cause<unknown>,
  at: number
): Ledger.FailureRecord => {
  const failure = Cause.failureOption(cause)
  let category: Ledger.FailureCategory
  let error: unknown
  if (Option.isSome(failure)) {
    error = failure.value
    category = error instanceof CallTimeoutError ? "timeout" : "exception"
  } else {
    const defect = Cause.dieOption(cause)
    error = Option.isSome(defect) ? defect.value : Cause.squash(cause)
    category = "defect"
  }
  let described: { readonly type: string; readonly message: string }
  let traceback: string
  try {
    described = describeError(error)
  } catch {
    described = { type: "Error", message: "(the error could not be rendered)" }
  }
  try {
    traceback = Cause.pretty(cause)
  } catch {
    traceback = described.message
  }
  const { message, type } = described
  return new Ledger.FailureRecord({
    breakerName,
    category,
    errorType: type,
    errorMessage: message,
    traceback,
    createdAt: new Date(at)
  })
}

/** the public interface, implemented below */
export interface CircuitBreakerImpl {
  readonly name: string
  readonly config: BreakerConfig
  readonly state: Effect.Effect<BreakerState>
  readonly metrics: Effect.Effect<BreakerMetrics>
  readonly changes: Stream.Stream<Ledger.TransitionRecord>
  readonly subscribe: Effect.Effect<Queue.Dequeue<Ledger.TransitionRecord>, never, Scope.Scope>
  readonly reset: Effect.Effect<void>
  readonly forceOpen: Effect.Effect<void>
  readonly execute: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpenError | CallTimeoutError, R>
}

const formatMillis = (ms: number): string => Duration.format(Duration.millis(ms))

/**
 * Runs `self` under a timeout that really interrupts it. The effect starts
 * at once in a child fiber on the current thread; when it completes
 * synchronously (a cache hit, a pure node) no timer is ever armed, which is
 * what makes the default 30 s `callTimeout` nearly free. Only an effect that
 * suspends is raced against `Effect.sleep` (so `TestClock` drives it).
 */
const runWithTimeout = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  timeout: Duration.Duration,
  onTimeout: () => CallTimeoutError
): Effect.Effect<A, E | CallTimeoutError, R> =>
  Effect.withFiberRuntime<A, E | CallTimeoutError, R>((parent) => {
    const runtime = Runtime.make({
      context: parent.currentContext as any,
      fiberRefs: parent.getFiberRefs(),
      runtimeFlags: Runtime.defaultRuntimeFlags
    })
    const child = Runtime.runFork(runtime)(self)
    const done = child.unsafePoll()
    if (done !== null) return done
    // Fiber.await, not Fiber.join: like the synchronous path, the node's own FiberRef
    // changes stay in the node (copying them back costs more than the breaker itself)
    return Effect.flatten(Fiber.await(child)).pipe(
      Effect.timeoutOption(timeout),
      Effect.flatMap((result) =>
        Option.isSome(result)
          ? Effect.succeed(result.value)
          : Effect.zipRight(Fiber.interrupt(child), Effect.fail(onTimeout()))
      ),
      Effect.onInterrupt(() => Fiber.interrupt(child))
    )
  })

/** builds a breaker from a decoded config */
export const make = (config: BreakerConfig): Effect.Effect<CircuitBreakerImpl, never, Ledger.Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const shared = Option.getOrUndefined(yield* Effect.serviceOption(SharedState))
    const name = config.name
    const windowMillis = Duration.toMillis(config.windowSize)
    const recoveryMillis = Duration.toMillis(config.recoveryTimeout)
    const timeout = config.callTimeout
    const timeoutMillis = timeout === null ? 0 : Duration.toMillis(timeout)
    const slowMillis = config.slowCallDuration === undefined ? undefined : Duration.toMillis(config.slowCallDuration)
    const slowRate = slowMillis === undefined ? undefined : (config.slowCallRateThreshold ?? 1)
    const failureRate = config.failureRateThreshold
    const rates = failureRate !== undefined || slowRate !== undefined ? new RateWindow(windowMillis) : undefined
    const isFailure = config.isFailure
    const window = new FailureWindow(config.failureThreshold)

    // delays added to the recovery timeout after the 1st, 2nd, ... failed probe
    const backoff: ReadonlyArray<number> = config.recoveryBackoff === undefined
      ? []
      : Chunk.toReadonlyArray(
        yield* Schedule.run(Schedule.delays(config.recoveryBackoff), 0, Array.from({ length: 64 }, () => undefined))
          .pipe(Effect.orElseSucceed(() => Chunk.empty<Duration.Duration>()))
      ).map(Duration.toMillis)
    const backoffFor = (failedProbes: number): number =>
      backoff.length === 0 ? 0 : backoff[Math.min(failedProbes, backoff.length) - 1] ?? 0

    const ref = yield* Ref.make<StateData>(CLOSED_STATE)
    /**
     * A synchronous mirror of the Ref, written only inside its updates, so the
     * CLOSED hot path can branch without an extra Effect step.
     */
    let current: StateData = CLOSED_STATE
    const modify = <B>(f: (s: StateData) => [B, StateData]): Effect.Effect<B> =>
      Ref.modify(ref, (s) => {
        const result = f(s)
        current = result[1]
        return result
      })
    const pubsub = yield* PubSub.sliding<Ledger.TransitionRecord>(1024)
    const counters = {
      totalCalls: 0,
      failures: 0,
      successes: 0,
      rejections: 0,
      timeouts: 0,
      slowCalls: 0,
      lastFailureAt: null as number | null
    }

    const publish = (t: PendingTransition): Effect.Effect<void> => {
      if (shared === undefined || t.synced === true) return Effect.void
      const s = current
      // in the background: another process's database must never slow this call
      return Effect.asVoid(Effect.forkDaemon(
        shared.publish({
          breaker: name,
          state: t.to,
          openedAt: s.openedAt,
          retryAt: Number.isFinite(s.retryAt) ? s.retryAt : null,
          updatedAt: t.at,
          origin: shared.origin
        }).pipe(Effect.catchAllCause((cause) => Effect.logWarning(`agentarmour: could not publish the state of breaker "${name}"`, cause)))
      ))
    }

    const announce = (t: PendingTransition | undefined): Effect.Effect<void> => {
      if (t === undefined) return Effect.void
      const record = new Ledger.TransitionRecord({
        breakerName: name,
        fromState: t.from,
        toState: t.to,
        reason: t.reason,
        createdAt: new Date(t.at)
      })
      // never inside the state update, never failing the caller
      return Effect.zipRight(
        PubSub.publish(pubsub, record),
        Effect.zipRight(Effect.catchAllCause(ledger.recordTransition(record), () => Effect.void), publish(t))
      )
    }

    const open = (s: StateData, now: number, reason: string, failedProbes: number): [PendingTransition, StateData] => [
      { from: s.state, to: "OPEN", reason, at: now },
      {
        state: "OPEN",
        openedAt: now,
        retryAt: now + recoveryMillis + backoffFor(failedProbes),
        inFlight: 0,
        failedProbes
      }
    ]

    const acquire = (clock: Clock.Clock) =>
      modify((s): [Acquired, StateData] => {
        switch (s.state) {
          case "CLOSED":
            return [CLOSED_ACQUIRED, s]
          case "OPEN": {
            const now = clock.unsafeCurrentTimeMillis()
            if (now < s.retryAt) {
              return [{ permit: NO_PERMIT, retryAfterMillis: s.retryAt - now, transition: undefined }, s]
            }
            return [
              {
                permit: PROBE_PERMIT,
                retryAfterMillis: 0,
                transition: {
                  from: "OPEN",
                  to: "HALF_OPEN",
                  reason: `recovery timeout of ${formatMillis(s.retryAt - s.openedAt)} elapsed`,
                  at: now
                }
              },
              { ...s, state: "HALF_OPEN", inFlight: 1 }
            ]
          }
          case "HALF_OPEN": {
            if (s.inFlight >= config.halfOpenMaxCalls) {
              return [{ permit: NO_PERMIT, retryAfterMillis: 0, transition: undefined }, s]
            }
            return [PROBE_ACQUIRED, { ...s, inFlight: s.inFlight + 1 }]
          }
        }
      })

    /** a probe that neither succeeded nor failed (interrupted, control flow, not a failure) */
    const releaseProbe = modify((s): [void, StateData] => [
      undefined,
      s.state === "HALF_OPEN" ? { ...s, inFlight: Math.max(0, s.inFlight - 1) } : s
    ])

    const onSuccess = (permit: number, clock: Clock.Clock, startedAt: number): Effect.Effect<void> => {
      counters.successes++
      let slow = false
      if (slowMillis !== undefined || rates !== undefined) {
        const now = clock.unsafeCurrentTimeMillis()
        slow = slowMillis !== undefined && now - startedAt > slowMillis
        if (slow) counters.slowCalls++
        if (rates !== undefined && permit === CLOSED_PERMIT) rates.add(now, false, slow)
      }
      if (permit === CLOSED_PERMIT) {
        if (!slow) return Effect.void
        return Effect.flatMap(
          modify((s): [PendingTransition | undefined, StateData] => {
            if (s.state !== "CLOSED" || slowRate === undefined || rates === undefined) return [undefined, s]
            const now = clock.unsafeCurrentTimeMillis()
            const t = rates.totals(now)
            if (t.calls >= config.minimumCalls && t.slow / t.calls >= slowRate) {
              return open(s, now, `slow-call rate ${(t.slow / t.calls * 100).toFixed(0)}% over ${t.calls} calls reached ${(slowRate * 100).toFixed(0)}%`, 0)
            }
            return [undefined, s]
          }),
          (transition) =>
            Effect.zipRight(
              recordFailure(new Ledger.FailureRecord({
                breakerName: name,
                category: "slow",
                errorType: "SlowCall",
                errorMessage: `call took ${formatMillis(clock.unsafeCurrentTimeMillis() - startedAt)}, slower than slowCallDuration ${formatMillis(slowMillis!)}`,
                traceback: "",
                createdAt: new Date(clock.unsafeCurrentTimeMillis())
              })),
              announce(transition)
            )
        )
      }
      // a probe succeeded: close (window cleared); another probe may have closed it already
      return Effect.flatMap(
        modify((s): [PendingTransition | undefined, StateData] => {
          if (s.state !== "HALF_OPEN") return [undefined, s]
          window.clear()
          rates?.clear()
          return [
            { from: "HALF_OPEN", to: "CLOSED", reason: "probe succeeded", at: clock.unsafeCurrentTimeMillis() },
            CLOSED_STATE
          ]
        }),
        announce
      )
    }

    const recordFailure = (record: Ledger.FailureRecord) =>
      Effect.catchAllCause(ledger.recordFailure(record), () => Effect.void)

    const onFailure = (permit: number, clock: Clock.Clock, cause: Cause.Cause<unknown>): Effect.Effect<void> => {
      markFailure(cause, name)
      if (
        Cause.isInterruptedOnly(cause) || causeIsControlFlow(cause) || (isFailure !== undefined && !isFailure(cause))
      ) {
        return permit === PROBE_PERMIT ? releaseProbe : Effect.void
      }
      const now = clock.unsafeCurrentTimeMillis()
      counters.failures++
      counters.lastFailureAt = now
      const record = failureRecord(name, cause, now)
      if (record.category === "timeout") counters.timeouts++
      return Effect.flatMap(
        modify((s): [PendingTransition | undefined, StateData] => {
          if (permit === PROBE_PERMIT) {
            if (s.state !== "HALF_OPEN") return [undefined, s]
            return open(s, now, `probe failed: ${record.errorMessage}`, s.failedProbes + 1)
          }
          const tripped = window.add(now, windowMillis)
          rates?.add(now, true, false)
          if (s.state !== "CLOSED") return [undefined, s]
          if (tripped) {
            return open(s, now, `${config.failureThreshold} failures within ${formatMillis(windowMillis)}; last: ${record.errorMessage}`, 0)
          }
          if (rates !== undefined && failureRate !== undefined) {
            const t = rates.totals(now)
            if (t.calls >= config.minimumCalls && t.failures / t.calls >= failureRate) {
              return open(s, now, `failure rate ${(t.failures / t.calls * 100).toFixed(0)}% over ${t.calls} calls reached ${(failureRate * 100).toFixed(0)}%`, 0)
            }
          }
          return [undefined, s]
        }),
        (transition) => Effect.zipRight(recordFailure(record), announce(transition))
      )
    }

    // --- state shared across processes (only with a SharedState service) ---
    const syncMillis = shared === undefined ? Infinity : Duration.toMillis(shared.syncInterval)
    let nextSync = 0
    let syncing = false
    let lastRemote = -Infinity
    const applyRemote = (remote: Option.Option<import("./sharedState.js").SharedBreakerState>) =>
      Effect.flatMap(
        modify((s): [PendingTransition | undefined, StateData] => {
          if (Option.isNone(remote)) return [undefined, s]
          const r = remote.value
          if (r.origin === shared!.origin || r.updatedAt <= lastRemote) return [undefined, s]
          lastRemote = r.updatedAt
          if (r.state === "OPEN" && s.state !== "OPEN" && r.updatedAt >= s.openedAt) {
            return [
              { from: s.state, to: "OPEN", reason: "opened by another process", at: r.updatedAt, synced: true },
              { state: "OPEN", openedAt: r.openedAt, retryAt: r.retryAt ?? Infinity, inFlight: 0, failedProbes: s.failedProbes }
            ]
          }
          if (r.state === "CLOSED" && s.state !== "CLOSED" && r.updatedAt > s.openedAt) {
            window.clear()
            rates?.clear()
            return [{ from: s.state, to: "CLOSED", reason: "closed by another process", at: r.updatedAt, synced: true }, CLOSED_STATE]
          }
          return [undefined, s]
        }),
        announce
      )
    /** at most once per syncInterval, in the background: calls never wait for the shared state */
    const syncInBackground = (now: number): Effect.Effect<void> | undefined => {
      if (shared === undefined || syncing || now < nextSync) return undefined
      syncing = true
      nextSync = now + syncMillis
      return Effect.asVoid(Effect.forkDaemon(
        shared.read(name).pipe(
          Effect.flatMap(applyRemote),
          Effect.catchAllCause((cause) => Effect.logWarning(`agentarmour: could not read the shared state of breaker "${name}"`, cause)),
          Effect.ensuring(Effect.sync(() => (syncing = false)))
        )
      ))
    }
    /** waits for one sync (for `state` reads, so they reflect the other processes) */
    const syncNow = shared === undefined
      ? Effect.void
      : Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        if (syncing || now < nextSync) return Effect.void
        nextSync = now + syncMillis
        return shared.read(name).pipe(
          Effect.flatMap(applyRemote),
          Effect.catchAllCause(() => Effect.void)
        )
      })

    // Rejections are the hot path of an OPEN breaker under load. Errors are
    // immutable values, so one is shared by every rejection carrying the same
    // retryAfterMillis; its stack would only point into this file, so none is captured.
    let lastRejection: Effect.Effect<never, CircuitOpenError> | undefined
    let lastRetryAfter = -1
    const rejected = (retryAfterMillis: number) => {
      counters.rejections++
      if (retryAfterMillis !== lastRetryAfter || lastRejection === undefined) {
        const limit = Error.stackTraceLimit
        Error.stackTraceLimit = 0
        lastRejection = Effect.fail(new CircuitOpenError({ breaker: name, retryAfterMillis }, true))
        Error.stackTraceLimit = limit
        lastRetryAfter = retryAfterMillis
      }
      return lastRejection
    }

    const makeTimeoutError = () => new CallTimeoutError({ breaker: name, timeoutMillis }, true)
    const needsStart = slowMillis !== undefined
    /** without rate or slow-call rules a CLOSED call needs neither the clock nor a permit */
    const plainClosed = rates === undefined && slowMillis === undefined
    const closedSuccess = <A>(a: A) => {
      counters.successes++
      return Effect.succeed(a)
    }
    const closedFailure = (cause: Cause.Cause<unknown>) =>
      Effect.zipRight(Effect.clockWith((clock) => onFailure(CLOSED_PERMIT, clock, cause)), Effect.failCause(cause))

    const execute = <A, E, R>(
      self: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | CircuitOpenError | CallTimeoutError, R> => {
      if (!config.enabled) return self
      const guarded: Effect.Effect<A, E | CallTimeoutError, R> = timeout === null
        ? self
        : runWithTimeout(self, timeout, makeTimeoutError)
      const full = Effect.clockWith((clock) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(acquire(clock), (acquired): Effect.Effect<A, E | CircuitOpenError | CallTimeoutError, R> => {
            counters.totalCalls++
            if (acquired.permit === NO_PERMIT) return rejected(acquired.retryAfterMillis)
            const startedAt = needsStart ? clock.unsafeCurrentTimeMillis() : 0
            const run = Effect.matchCauseEffect(restore(guarded), {
              onSuccess: (a) => Effect.as(onSuccess(acquired.permit, clock, startedAt), a),
              onFailure: (cause) => Effect.zipRight(onFailure(acquired.permit, clock, cause), Effect.failCause(cause))
            })
            return acquired.transition === undefined ? run : Effect.zipRight(announce(acquired.transition), run)
          })
        )
      )
      const local = Effect.clockWith((clock) => {
        // OPEN before its retry time: reject without touching the node or the Ref
        if (current.state === "OPEN") {
          const now = clock.unsafeCurrentTimeMillis()
          if (now < current.retryAt) {
            counters.totalCalls++
            return rejected(current.retryAt - now)
          }
        }
        if (!plainClosed || current.state !== "CLOSED") return full
        counters.totalCalls++
        return Effect.matchCauseEffect(guarded, {
          onSuccess: closedSuccess,
          onFailure: closedFailure as (cause: Cause.Cause<E | CallTimeoutError>) => Effect.Effect<never, E | CallTimeoutError>
        })
      })
      if (shared === undefined) return local
      return Effect.clockWith((clock) => {
        const sync = syncInBackground(clock.unsafeCurrentTimeMillis())
        return sync === undefined ? local : Effect.zipRight(sync, local)
      })
    }

    /** OPEN -> HALF_OPEN is lazy: reading the state after the recovery timeout performs it */
    const state = Effect.zipRight(syncNow, Effect.clockWith((clock) =>
      Effect.flatMap(
        modify((s): [[BreakerState, PendingTransition | undefined], StateData] => {
          if (s.state === "OPEN") {
            const now = clock.unsafeCurrentTimeMillis()
            if (now >= s.retryAt) {
              return [[
                "HALF_OPEN",
                {
                  from: "OPEN",
                  to: "HALF_OPEN",
                  reason: `recovery timeout of ${formatMillis(s.retryAt - s.openedAt)} elapsed`,
                  at: now
                }
              ], { ...s, state: "HALF_OPEN", inFlight: 0 }]
            }
          }
          return [[s.state, undefined], s]
        }),
        ([current, transition]) => Effect.as(announce(transition), current)
      )
    ))

    const transitionTo = (to: BreakerState, reason: string, next: (now: number) => StateData) =>
      Effect.clockWith((clock) =>
        Effect.flatMap(
          modify((s): [PendingTransition | undefined, StateData] => {
            const now = clock.unsafeCurrentTimeMillis()
            window.clear()
            rates?.clear()
            const n = next(now)
            return [s.state === to ? undefined : { from: s.state, to, reason, at: now }, n]
          }),
          announce
        )
      )

    const metrics = Effect.clockWith((clock) =>
      Effect.map(state, (current): BreakerMetrics => {
        const now = clock.unsafeCurrentTimeMillis()
        return {
          breakerName: name,
          state: current,
          totalCalls: counters.totalCalls,
          failures: counters.failures,
          successes: counters.successes,
          rejections: counters.rejections,
          timeouts: counters.timeouts,
          slowCalls: counters.slowCalls,
          failureCount: current === "CLOSED" ? window.count(now, windowMillis) : 0,
          lastFailureAt: counters.lastFailureAt === null ? null : new Date(counters.lastFailureAt),
          openedAt: null
        }
      })
    ).pipe(
      Effect.zipWith(Ref.get(ref), (m, s) =>
        s.state === "CLOSED" ? m : { ...m, openedAt: new Date(s.openedAt) })
    )

    return {
      name,
      config,
      state,
      metrics,
      changes: Stream.fromPubSub(pubsub),
      subscribe: PubSub.subscribe(pubsub),
      reset: transitionTo("CLOSED", "reset", () => CLOSED_STATE),
      forceOpen: transitionTo("OPEN", "forced open", (now) => ({
        state: "OPEN",
        openedAt: now,
        retryAt: Infinity,
        inFlight: 0,
        failedProbes: 0
      })),
      execute
    } satisfies CircuitBreakerImpl
  })

