/**
 * The Effect shell around the pure state machine (`breaker/machine.ts`).
 *
 * It owns the breaker's state — one field, read and written only inside
 * `Effect.sync`/`suspend`/`clockWith` callbacks on the calling fiber, as
 * `effect/src/internal/rcMap.ts` keeps its `state` (a `Ref` would add an Effect
 * step to every call; see docs/performance.md, "CLOSED, callTimeout null") —
 * reads the `Clock`, runs the call (under the timeout and the bulkhead),
 * feeds outcomes to the machine, and publishes the transitions the machine
 * returns: on `changes`, to the ledger, to the metrics, to other processes.
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { identity } from "effect/Function"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { BreakerConfig } from "../BreakerConfig.js"
import type { BreakerError, BreakerMetrics, CircuitBreaker } from "../CircuitBreaker.js"
import * as Ledger from "../Ledger.js"
import * as Telemetry from "../Telemetry.js"
import * as consecutive from "./breaker/consecutive.js"
import * as countWindow from "./breaker/countWindow.js"
import * as failedThrough from "./breaker/failedThrough.js"
import * as Failure from "./breaker/failure.js"
import * as Machine from "./breaker/machine.js"
import * as rates from "./breaker/rates.js"
import { type AnyRule, formatMillis } from "./breaker/rule.js"
import * as Sync from "./breaker/sync.js"
import * as timeWindow from "./breaker/timeWindow.js"
import * as Timeout from "./breaker/timeout.js"
import { BulkheadFullError, CallTimeoutError, CircuitIsolatedError, CircuitOpenError, InvalidResultError } from "./errors.js"
import { SharedState } from "./sharedState.js"

export { isControlFlow } from "./breaker/controlFlow.js"
/** the breaker a failed value passed through, if known (see `breaker/failedThrough.ts`) */
export const breakerOfFailure = failedThrough.breakerOf

/** @internal */
export const TypeId: unique symbol = Symbol.for("agentarmour/CircuitBreaker")

/** recognises breakers (not a `Context.Tag`, not a registry name) */
export const isCircuitBreaker = (u: unknown): u is CircuitBreaker =>
  typeof u === "object" && u !== null && TypeId in u

/** the default `halfOpenTimeout` when `callTimeout` is `null` */
export const DEFAULT_HALF_OPEN_TIMEOUT = Duration.seconds(60)

const rulesOf = (config: BreakerConfig, windowMillis: number): ReadonlyArray<AnyRule> => {
  const threshold = config.failureMode === "consecutive"
    ? consecutive.make(config.failureThreshold)
    : timeWindow.make(config.failureThreshold, windowMillis)
  const slowRate = config.slowCallDuration === undefined ? undefined : (config.slowCallRateThreshold ?? 1)
  if (config.failureRateThreshold === undefined && slowRate === undefined) return [threshold]
  const thresholds = { minimumCalls: config.minimumCalls, failureRate: config.failureRateThreshold, slowRate }
  return [
    threshold,
    config.countWindow !== undefined
      ? countWindow.make(config.countWindow, thresholds)
      : rates.make(windowMillis, thresholds)
  ]
}

type Outcome = "success" | "failure" | "timeout" | "rejected"

/** builds a breaker from a decoded config */
export const make = (config: BreakerConfig): Effect.Effect<CircuitBreaker, never, Ledger.Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const shared = Option.getOrUndefined(yield* Effect.serviceOption(SharedState))
    const scope = Option.getOrUndefined(yield* Effect.serviceOption(Scope.Scope))
    const name = config.name
    const windowMillis = Duration.toMillis(config.windowSize)
    const timeoutMillis = config.callTimeout === null ? undefined : Duration.toMillis(config.callTimeout)
    const slowMillis = config.slowCallDuration === undefined ? undefined : Duration.toMillis(config.slowCallDuration)

    // delays added to the recovery timeout after the 1st, 2nd, ... failed probe
    const backoff: ReadonlyArray<number> = config.recoveryBackoff === undefined
      ? []
      : Chunk.toReadonlyArray(
        yield* Schedule.run(Schedule.delays(config.recoveryBackoff), 0, Array.from({ length: 64 }, () => undefined))
          .pipe(Effect.orElseSucceed(() => Chunk.empty<Duration.Duration>()))
      ).map(Duration.toMillis)

    const machine: Machine.Machine = {
      rules: rulesOf(config, windowMillis),
      recoveryMillis: Duration.toMillis(config.recoveryTimeout),
      backoffMillis: (n) => backoff.length === 0 ? 0 : backoff[Math.min(n, backoff.length) - 1] ?? 0,
      halfOpenMaxCalls: config.halfOpenMaxCalls,
      halfOpenSuccesses: config.halfOpenSuccesses,
      halfOpenTimeoutMillis: Duration.toMillis(
        config.halfOpenTimeout ?? config.callTimeout ?? DEFAULT_HALF_OPEN_TIMEOUT
      )
    }
    /** the one owner of the breaker's state (see the module comment) */
    let state = Machine.initial(machine)
    /** made on the first subscription: most breakers never have one */
    let pubsub: PubSub.PubSub<Ledger.TransitionRecord> | undefined
    const counters = {
      totalCalls: 0,
      failures: 0,
      successes: 0,
      rejections: 0,
      timeouts: 0,
      slowCalls: 0,
      lastFailureAt: null as number | null
    }

    // metric labels, made once per breaker: `unsafeUpdate` caches its hook per label array
    const breakerLabel = MetricLabel.make("breaker", name)
    const durationLabels = [breakerLabel]
    const outcomeLabels: Record<Outcome, ReadonlyArray<MetricLabel.MetricLabel>> = {
      success: [breakerLabel, MetricLabel.make("outcome", "success")],
      failure: [breakerLabel, MetricLabel.make("outcome", "failure")],
      timeout: [breakerLabel, MetricLabel.make("outcome", "timeout")],
      rejected: [breakerLabel, MetricLabel.make("outcome", "rejected")]
    }
    Telemetry.breakerState.unsafeUpdate(Telemetry.stateValue.CLOSED, durationLabels)

    const recordCall = (outcome: Outcome, slow: boolean, now: number): Effect.Effect<void> => {
      Telemetry.calls.unsafeUpdate(1, outcomeLabels[outcome])
      return ledger.recordCall({ breakerName: name, outcome, slow, createdAt: new Date(now) })
    }

    // --- publishing what the machine decided ---
    let sync: Sync.Sync | undefined
    /** `autoHalfOpen`: the times a wake-up is already scheduled for */
    const scheduled = new Set<number>()
    const wakeAt = (at: number, now: number): Effect.Effect<void> => {
      if (!config.autoHalfOpen || !Number.isFinite(at) || scheduled.has(at)) return Effect.void
      scheduled.add(at)
      const wake = Effect.sleep(Duration.millis(Math.max(0, at - now))).pipe(
        Effect.zipRight(Effect.suspend(() => {
          scheduled.delete(at)
          return apply({ _tag: "Tick" })
        }))
      )
      // in the breaker's Scope when it was built in one; otherwise a daemon that ends when it fires
      return Effect.asVoid(scope === undefined ? Effect.forkDaemon(wake) : Effect.forkIn(wake, scope))
    }

    const announce = (ts: ReadonlyArray<Machine.Transition>, now: number): Effect.Effect<void> => {
      const s = state
      Telemetry.breakerState.unsafeUpdate(Telemetry.stateValue[s.status], durationLabels)
      let effect: Effect.Effect<void> = Effect.void
      for (const t of ts) {
        const record = new Ledger.TransitionRecord({
          breakerName: name,
          fromState: t.from,
          toState: t.to,
          reason: t.reason,
          createdAt: new Date(t.at)
        }, { disableValidation: true })
        pubsub?.unsafeOffer(record)
        // a transition applied from another process was written there
        if (!t.synced) effect = Effect.zipRight(effect, Effect.catchAllCause(ledger.recordTransition(record), () => Effect.void))
        if (sync !== undefined) effect = Effect.zipRight(effect, sync.publish(t, s))
      }
      if (s.status === "OPEN") effect = Effect.zipRight(effect, wakeAt(s.retryAt, now))
      return effect
    }

    /** one step of the machine at the clock's now; publishes what it returns */
    const apply = (event: Machine.Event): Effect.Effect<void> =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        const [next, ts] = Machine.step(machine, state, event, now)
        state = next
        return ts.length === 0 ? Effect.void : announce(ts, now)
      })

    if (shared !== undefined) sync = Sync.make(shared, name, apply)

    // --- rejections ---
    // Errors are immutable values: one is shared by every rejection carrying the same retryAfterMillis.
    // Its stack would only point into this file, so none is captured (docs/performance.md, "OPEN fast-fail").
    let lastRejection: Effect.Effect<never, CircuitOpenError> | undefined
    let lastRetryAfter = -1
    const withoutStack = <A>(f: () => A): A => {
      const limit = Error.stackTraceLimit
      Error.stackTraceLimit = 0
      try {
        return f()
      } finally {
        Error.stackTraceLimit = limit
      }
    }
    const openError = (retryAfterMillis: number) => {
      if (retryAfterMillis !== lastRetryAfter || lastRejection === undefined) {
        lastRejection = Effect.fail(withoutStack(() => new CircuitOpenError({ breaker: name, retryAfterMillis }, true)))
        lastRetryAfter = retryAfterMillis
      }
      return lastRejection
    }
    const isolatedError = Effect.fail(withoutStack(() => new CircuitIsolatedError({ breaker: name }, true)))
    const reject = <E>(failure: Effect.Effect<never, E>, now: number): Effect.Effect<never, E> => {
      counters.totalCalls++
      counters.rejections++
      return Effect.zipRight(recordCall("rejected", false, now), failure)
    }

    // --- outcomes ---
    const isFailure = config.isFailure
    const validate = config.validateResult
    /** whether a CLOSED success changes the machine (consecutive runs, rates); a plain time window does not */
    const successMatters = machine.rules.length > 1 || config.failureMode === "consecutive"

    const onFailure = (
      permit: Machine.Permit,
      startedAt: number,
      now: number,
      cause: Cause.Cause<unknown>
    ): Effect.Effect<never, unknown> => {
      failedThrough.mark(cause, name)
      const classified = Failure.classify(cause, isFailure)
      if (!classified.counted) {
        return permit._tag === "Probe"
          ? Effect.zipRight(apply({ _tag: "Release", permit }), Effect.failCause(cause))
          : Effect.failCause(cause)
      }
      const slow = slowMillis !== undefined && now - startedAt > slowMillis
      counters.failures++
      counters.lastFailureAt = now
      if (slow) counters.slowCalls++
      const timedOut = classified.category === "timeout"
      if (timedOut) counters.timeouts++
      Telemetry.callDuration.unsafeUpdate((now - startedAt) / 1000, durationLabels)
      return recordCall(timedOut ? "timeout" : "failure", slow, now).pipe(
        Effect.zipRight(ledger.recordFailureCause({
          breakerName: name,
          category: classified.category,
          cause,
          createdAt: new Date(now)
        })),
        Effect.catchAllCause(() => Effect.void),
        Effect.zipRight(apply({ _tag: "Failure", permit, slow, detail: Failure.describe(classified.error) })),
        Effect.zipRight(Effect.failCause(cause))
      )
    }

    const onSuccess = <A>(permit: Machine.Permit, startedAt: number, now: number, a: A): Effect.Effect<A, unknown> => {
      if (validate !== undefined) {
        let verdict: boolean | string
        try {
          verdict = validate(a)
        } catch (defect) {
          return onFailure(permit, startedAt, now, Cause.die(defect))
        }
        if (verdict !== true) {
          const reason = verdict === false ? "rejected by validateResult" : String(verdict)
          const error = new InvalidResultError({ breaker: name, reason })
          return onFailure(permit, startedAt, now, Cause.fail(error))
        }
      }
      counters.successes++
      const slow = slowMillis !== undefined && now - startedAt > slowMillis
      Telemetry.callDuration.unsafeUpdate((now - startedAt) / 1000, durationLabels)
      let effect = recordCall("success", slow, now)
      if (slow) {
        counters.slowCalls++
        effect = Effect.zipRight(
          effect,
          ledger.recordFailure(
            new Ledger.FailureRecord({
              breakerName: name,
              category: "slow",
              errorType: "SlowCall",
              errorMessage: `call took ${formatMillis(now - startedAt)}, slower than slowCallDuration ${
                formatMillis(slowMillis!)
              }`,
              traceback: "",
              createdAt: new Date(now)
            }, { disableValidation: true })
          )
        )
      }
      if (permit._tag === "Probe" || successMatters || slow) {
        effect = Effect.zipRight(effect, apply({ _tag: "Success", permit, slow }))
      }
      return Effect.as(Effect.catchAllCause(effect, () => Effect.void), a)
    }

    // --- running a call ---
    const timeout = timeoutMillis === undefined
      ? undefined
      : Timeout.make(timeoutMillis, () => new CallTimeoutError({ breaker: name, timeoutMillis }, true))

    /** the call once admitted with `permit` */
    const runAdmitted = <A, E, R>(
      self: Effect.Effect<A, E, R>,
      permit: Machine.Permit,
      startedAt: number,
      restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z> = identity
    ): Effect.Effect<A, E | BreakerError, R> => {
      counters.totalCalls++
      const guarded = restore(timeout === undefined ? self : timeout(self))
      return Effect.matchCauseEffect(guarded, {
        onSuccess: (a) => Effect.clockWith((clock) => onSuccess(permit, startedAt, clock.unsafeCurrentTimeMillis(), a)),
        onFailure: (cause) =>
          Effect.clockWith((clock) => onFailure(permit, startedAt, clock.unsafeCurrentTimeMillis(), cause))
      }) as Effect.Effect<A, E | BreakerError, R>
    }

    /** a call when the breaker is not CLOSED: the permit is taken and handed back uninterruptibly */
    const runGuarded = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BreakerError, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.clockWith((clock) => {
          const now = clock.unsafeCurrentTimeMillis()
          const [admission, next, ts] = Machine.admit(machine, state, now)
          state = next
          let result: Effect.Effect<A, E | BreakerError, R>
          switch (admission._tag) {
            case "Closed":
            case "Probe":
              result = runAdmitted(self, admission, now, restore)
              break
            case "PassThrough":
              result = restore(self)
              break
            case "Rejected":
              result = reject(openError(admission.retryAfterMillis), now)
              break
            case "Isolated":
              result = reject(isolatedError, now)
              break
          }
          if (admission._tag === "Probe" && next.probes === 1) result = Effect.zipRight(wakeAt(next.halfOpenUntil, now), result)
          return ts.length === 0 ? result : Effect.zipRight(announce(ts, now), result)
        })
      )

    const core = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BreakerError, R> =>
      Effect.clockWith((clock) => {
        const s = state
        const now = clock.unsafeCurrentTimeMillis()
        const pending = sync?.onCall(now)
        let run: Effect.Effect<A, E | BreakerError, R>
        // CLOSED: a closed permit has nothing to hand back, so no uninterruptible region is needed
        if (s.status === "CLOSED") run = runAdmitted(self, Machine.CLOSED_PERMIT, now)
        // OPEN before its retry time: reject without touching the state
        else if (s.status === "OPEN" && now < s.retryAt) run = reject(openError(s.retryAt - now), now)
        else run = runGuarded(self)
        return pending === undefined ? run : Effect.zipRight(pending, run)
      })

    // --- bulkhead ---
    const maxConcurrent = config.maxConcurrent
    const bulkhead = maxConcurrent === undefined ? undefined : (() => {
      const semaphore = Effect.unsafeMakeSemaphore(maxConcurrent)
      const capacity = maxConcurrent + config.maxQueued
      /** calls running or waiting for a slot */
      let inside = 0
      const full = Effect.fail(new BulkheadFullError({ breaker: name, maxConcurrent }))
      const leave = Effect.sync(() => {
        inside--
      })
      return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BreakerError, R> =>
        Effect.clockWith((clock): Effect.Effect<A, E | BreakerError, R> => {
          if (inside >= capacity) return reject(full, clock.unsafeCurrentTimeMillis())
          inside++
          return Effect.ensuring(semaphore.withPermits(1)(self), leave)
        })
    })()

    const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string => {
      if (Exit.isSuccess(exit)) return "success"
      const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
      if (
        failure instanceof CircuitOpenError || failure instanceof CircuitIsolatedError ||
        failure instanceof BulkheadFullError
      ) return "rejected"
      if (failure instanceof CallTimeoutError) return "timeout"
      return Exit.isInterrupted(exit) ? "interrupted" : "failure"
    }

    const execute = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BreakerError, R> => {
      if (!config.enabled) return self
      const guarded = bulkhead === undefined ? core(self) : bulkhead(core(self))
      if (!config.trace) return guarded
      return guarded.pipe(
        Effect.onExit((exit) => Effect.annotateCurrentSpan(Telemetry.names.outcome, outcomeOf(exit))),
        Effect.withSpan(Telemetry.names.breakerSpan, { attributes: { [Telemetry.names.breaker]: name } })
      )
    }

    // --- reading and operating ---
    /** OPEN -> HALF_OPEN (and the halfOpenTimeout) are lazy: reading the state performs them */
    const currentState = Effect.zipRight(
      sync === undefined ? Effect.void : sync.beforeRead,
      Effect.zipRight(apply({ _tag: "Tick" }), Effect.sync(() => state.status))
    )

    const metrics = Effect.zipRight(
      currentState,
      Effect.clockWith((clock) =>
        Effect.sync((): BreakerMetrics => {
          const s = state
          return {
            breakerName: name,
            state: s.status,
            totalCalls: counters.totalCalls,
            failures: counters.failures,
            successes: counters.successes,
            rejections: counters.rejections,
            timeouts: counters.timeouts,
            slowCalls: counters.slowCalls,
            failureCount: Machine.failureCount(machine, s, clock.unsafeCurrentTimeMillis()),
            lastFailureAt: counters.lastFailureAt === null ? null : new Date(counters.lastFailureAt),
            openedAt: s.status === "OPEN" || s.status === "HALF_OPEN" ? new Date(s.openedAt) : null
          }
        })
      )
    )

    const getPubSub = Effect.suspend(() =>
      pubsub !== undefined
        ? Effect.succeed(pubsub)
        : Effect.map(PubSub.sliding<Ledger.TransitionRecord>(1024), (p) => (pubsub ??= p))
    )
    const subscribe: Effect.Effect<Queue.Dequeue<Ledger.TransitionRecord>, never, Scope.Scope> = Effect.flatMap(
      getPubSub,
      PubSub.subscribe
    )

    const breaker: CircuitBreaker = {
      [TypeId]: TypeId,
      name,
      config,
      state: currentState,
      metrics,
      changes: Stream.unwrapScoped(Effect.map(subscribe, (queue) => Stream.fromQueue(queue))),
      subscribe,
      reset: apply({ _tag: "Reset" }),
      forceOpen: apply({ _tag: "ForceOpen" }),
      disable: apply({ _tag: "Disable" }),
      enable: apply({ _tag: "Enable" }),
      isolate: Effect.asVoid(Effect.acquireRelease(apply({ _tag: "Isolate" }), () => apply({ _tag: "Unisolate" }))),
      execute
    }
    return breaker
  })
