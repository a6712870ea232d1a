/**
 * The Effect shell around the pure state machine (`breaker/machine.ts`).
 *
 * It owns the breaker's state — one field, `state`, read and written only
 * inside `Effect.sync`/`suspend`/`clockWith` callbacks on the calling fiber, as
 * `effect/src/internal/rcMap.ts` keeps its `state` (a `Ref` would add an Effect
 * step to every call; docs/performance.md, "CLOSED, callTimeout null") —
 * reads the `Clock`, runs the call (under the timeout and the bulkhead),
 * feeds outcomes to the machine, and publishes the transitions the machine
 * returns: on `changes`, to the ledger, to the metrics, to other processes.
 *
 * A breaker is a class instance whose operations (`state`, `reset`,
 * `isolate`...) are built when read and whose helpers (the timeout's
 * deadline list, the bulkhead, the `changes` PubSub, the metric labels) are
 * made on first use, so that a breaker weighs little (docs/performance.md,
 * "breaker weight").
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as MetricHook from "effect/MetricHook"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

import type { BreakerError, BreakerMetrics, BreakerState, CircuitBreaker } from "../CircuitBreaker.js"
import * as Telemetry from "../Telemetry.js"
import type { BreakerConfig } from "./breaker/config.js"
import * as failedThrough from "./breaker/failedThrough.js"
import * as Failure from "./breaker/failure.js"
import * as FromConfig from "./breaker/fromConfig.js"
import * as Machine from "./breaker/machine.js"
import { formatMillis } from "./breaker/rule.js"
import * as Sync from "./breaker/sync.js"
import * as Timeout from "./breaker/timeout.js"
import {
  BulkheadFullError,
  CallTimeoutError,
  CircuitIsolatedError,
  CircuitOpenError,
  InvalidResultError
} from "./errors.js"
import { type CallRecord, FailureRecord, TransitionRecord } from "./ledger/records.js"
import { Ledger } from "./ledger/service.js"
import { syncRecordCallOf } from "./ledgerSync.js"
import { SharedState, type SharedState as SharedStateService } from "./sharedState.js"
import * as TelemetryKeys from "./telemetryKeys.js"

export { isControlFlow } from "./breaker/controlFlow.js"
/** the breaker a failed value passed through, if known (see `breaker/failedThrough.ts`) */
export const breakerOfFailure = failedThrough.breakerOf

/** @internal */
export const TypeId: unique symbol = Symbol.for("agentarmour/CircuitBreaker")

/** recognises breakers (not a `Context.Tag`, not a registry name) */
export const isCircuitBreaker = (u: unknown): u is CircuitBreaker => typeof u === "object" && u !== null && TypeId in u

type Outcome = "success" | "failure" | "timeout" | "rejected"

/**
 * Metric labels of one breaker, each array made on first use: `unsafeUpdate`
 * caches its hook per label array, so one array per breaker and outcome.
 */
class Labels {
  private readonly label: MetricLabel.MetricLabel
  private readonly byOutcome: Partial<Record<Outcome, MetricHook.MetricHook.Counter<number>>> = {}
  private duration: MetricHook.MetricHook.Histogram | undefined
  readonly breaker: ReadonlyArray<MetricLabel.MetricLabel>
  constructor(name: string) {
    this.label = MetricLabel.make("breaker", name)
    this.breaker = [this.label]
  }
  /** the registry's hook of `agentarmour_calls_total{breaker,outcome}` */
  calls(o: Outcome): MetricHook.MetricHook.Counter<number> {
    return this.byOutcome[o] ??= TelemetryKeys.callsHook([this.label, MetricLabel.make("outcome", o)])
  }
  /** the registry's hook of `agentarmour_call_duration_seconds{breaker}` */
  callDuration(): MetricHook.MetricHook.Histogram {
    return this.duration ??= TelemetryKeys.callDurationHook(this.breaker)
  }
}

const withoutStack = <A>(f: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return f()
  } finally {
    Error.stackTraceLimit = limit
  }
}

const ignore = () => Effect.void

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

/**
 * The handlers of `matchCauseEffect`, built from anonymous functions: an object
 * literal of arrows would give them names, which tools that keep names
 * (esbuild, tsx) set with a `defineProperty` per call.
 */
export const handlers = <A, E, B, E2>(
  onSuccess: (a: A) => Effect.Effect<B, E2>,
  onFailure: (cause: Cause.Cause<E>) => Effect.Effect<B, E2>
) => ({ onSuccess, onFailure })

type Restore = <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>
const noRestore: Restore = (effect) => effect

class Bulkhead {
  readonly semaphore: Effect.Semaphore
  readonly capacity: number
  /** calls running or waiting for a slot */
  inside = 0
  readonly leave = Effect.sync(() => {
    this.inside--
  })
  constructor(readonly maxConcurrent: number, maxQueued: number) {
    this.semaphore = Effect.unsafeMakeSemaphore(maxConcurrent)
    this.capacity = maxConcurrent + maxQueued
  }
}

class BreakerImpl implements CircuitBreaker {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly name: string
  /** the one owner of the breaker's state (see the module comment) */
  private st: Machine.State
  private pubsub: PubSub.PubSub<TransitionRecord> | undefined
  private labels: Labels | undefined
  private deadlines: Timeout.Deadlines<CallTimeoutError> | undefined
  private bulkhead: Bulkhead | undefined
  private sync: Sync.Sync | undefined
  /** `autoHalfOpen`: the times a wake-up is already scheduled for */
  private scheduled: Set<number> | undefined
  private readonly timeoutMillis: number | undefined
  private readonly slowMillis: number | undefined
  /** whether a CLOSED success changes the machine (consecutive runs, rates); a plain time window does not */
  private readonly successMatters: boolean
  // counters for `metrics`
  private totalCalls = 0
  private failures = 0
  private successes = 0
  private rejections = 0
  private timeouts = 0
  private slowCalls = 0
  private lastFailureAt: number | null = null
  // Rejections are the hot path of an OPEN breaker under load. Errors are immutable values: one is shared
  // by every rejection carrying the same retryAfterMillis (docs/performance.md, "OPEN fast-fail").
  private lastRejection: Effect.Effect<never, CircuitOpenError> | undefined
  private lastRetryAfter = -1
  // one CallRecord per outcome and millisecond: records are immutable, many calls share a millisecond
  private lastRecord: CallRecord | undefined
  private readonly syncRecordCall: ((record: CallRecord) => void) | undefined

  constructor(
    readonly config: BreakerConfig,
    private readonly ledger: Ledger,
    private readonly scope: Scope.Scope | undefined,
    private readonly machine: Machine.Machine
  ) {
    this.name = config.name
    this.syncRecordCall = syncRecordCallOf(ledger)
    this.st = Machine.initial(machine)
    this.timeoutMillis = config.callTimeout === null ? undefined : Duration.toMillis(config.callTimeout)
    this.slowMillis = config.slowCallDuration === undefined ? undefined : Duration.toMillis(config.slowCallDuration)
    this.successMatters = FromConfig.successMatters(config, machine)
    if (config.maxConcurrent !== undefined) this.bulkhead = new Bulkhead(config.maxConcurrent, config.maxQueued)
  }

  /** with a `SharedState` service: follows and publishes the breaker's shared state */
  connect(shared: SharedStateService): Effect.Effect<void> {
    return Effect.map(Sync.make(shared, this.name, (event) => this.apply(event), this.scope), (sync) => {
      this.sync = sync
    })
  }

  // --- publishing what the machine decided ---

  private metricLabels(): Labels {
    return this.labels ??= new Labels(this.name)
  }

  private recordCall(outcome: Outcome, slow: boolean, now: number): Effect.Effect<void> {
    const labels = this.metricLabels()
    labels.calls(outcome).update(1)
    let record = this.lastRecord
    if (
      record === undefined || record.outcome !== outcome || record.slow !== slow || record.createdAt.getTime() !== now
    ) {
      record = this.lastRecord = { breakerName: this.name, outcome, slow, createdAt: new Date(now) }
    }
    // a ledger that counts calls in memory takes them without an Effect step (see ledgerSync.ts)
    if (this.syncRecordCall !== undefined) {
      this.syncRecordCall(record)
      return Effect.void
    }
    return this.ledger.recordCall(record)
  }

  private wakeAt(at: number, now: number): Effect.Effect<void> {
    if (!this.config.autoHalfOpen || !Number.isFinite(at)) return Effect.void
    const scheduled = this.scheduled ??= new Set()
    if (scheduled.has(at)) return Effect.void
    scheduled.add(at)
    const wake = Effect.sleep(Duration.millis(Math.max(0, at - now))).pipe(
      Effect.zipRight(Effect.suspend(() => {
        scheduled.delete(at)
        return this.apply({ _tag: "Tick" })
      }))
    )
    // in the breaker's Scope when it was built in one; otherwise a daemon that ends when it fires.
    // Interruptible: it is forked from inside a call's uninterruptible region and would inherit it,
    // holding the Scope's close (and ManagedRuntime.dispose) open until it fires
    const fiber = Effect.interruptible(wake)
    return Effect.asVoid(this.scope === undefined ? Effect.forkDaemon(fiber) : Effect.forkIn(fiber, this.scope))
  }

  private announce(ts: ReadonlyArray<Machine.Transition>, now: number): Effect.Effect<void> {
    const s = this.st
    Telemetry.breakerState.unsafeUpdate(Telemetry.stateValue[s.status], this.metricLabels().breaker)
    let effect: Effect.Effect<void> = Effect.void
    for (const t of ts) {
      const record = new TransitionRecord({
        breakerName: this.name,
        fromState: t.from,
        toState: t.to,
        reason: t.reason,
        createdAt: new Date(t.at)
      }, { disableValidation: true })
      this.pubsub?.unsafeOffer(record)
      // a transition applied from another process was written there; with shared state, the
      // process whose transition the store kept writes it (concurrent identical trips: once)
      const write = Effect.catchAllCause(this.ledger.recordTransition(record), ignore)
      if (this.sync !== undefined) effect = Effect.zipRight(effect, this.sync.publish(t, s, write))
      else if (!t.synced) effect = Effect.zipRight(effect, write)
    }
    if (s.status === "OPEN") effect = Effect.zipRight(effect, this.wakeAt(s.retryAt, now))
    return effect
  }

  /** one step of the machine at the clock's now; publishes what it returns */
  private apply(event: Machine.Event): Effect.Effect<void> {
    return Effect.clockWith((clock) => {
      const now = clock.unsafeCurrentTimeMillis()
      const [next, ts] = Machine.step(this.machine, this.st, event, now)
      this.st = next
      return ts.length === 0 ? Effect.void : this.announce(ts, now)
    })
  }

  // --- rejections ---

  private openError(retryAfterMillis: number): Effect.Effect<never, CircuitOpenError> {
    if (retryAfterMillis !== this.lastRetryAfter || this.lastRejection === undefined) {
      const error = withoutStack(() => new CircuitOpenError({ breaker: this.name, retryAfterMillis }, true))
      this.lastRejection = Effect.fail(error)
      this.lastRetryAfter = retryAfterMillis
    }
    return this.lastRejection
  }

  private reject<E>(failure: Effect.Effect<never, E>, now: number): Effect.Effect<never, E> {
    this.totalCalls++
    this.rejections++
    const recorded = this.recordCall("rejected", false, now)
    return recorded === Effect.void ? failure : Effect.zipRight(recorded, failure)
  }

  // --- outcomes ---

  private onFailure(
    permit: Machine.Permit,
    startedAt: number,
    now: number,
    cause: Cause.Cause<unknown>
  ): Effect.Effect<never, unknown> {
    failedThrough.mark(cause, this.name)
    const classified = Failure.classify(cause, this.config.isFailure)
    if (!classified.counted) {
      return permit._tag === "Probe"
        ? Effect.zipRight(this.apply({ _tag: "Release", permit }), Effect.failCause(cause))
        : Effect.failCause(cause)
    }
    const slow = this.slowMillis !== undefined && now - startedAt > this.slowMillis
    this.failures++
    this.lastFailureAt = now
    if (slow) this.slowCalls++
    const timedOut = classified.category === "timeout"
    if (timedOut) this.timeouts++
    this.metricLabels().callDuration().update((now - startedAt) / 1000)
    return this.recordCall(timedOut ? "timeout" : "failure", slow, now).pipe(
      Effect.zipRight(this.ledger.recordFailureCause({
        breakerName: this.name,
        category: classified.category,
        cause,
        createdAt: new Date(now)
      })),
      Effect.catchAllCause(ignore),
      Effect.zipRight(this.apply({ _tag: "Failure", permit, slow, detail: Failure.describe(classified.error) })),
      Effect.zipRight(Effect.failCause(cause))
    )
  }

  private onSuccess<A>(permit: Machine.Permit, startedAt: number, now: number, a: A): Effect.Effect<A, unknown> {
    const validate = this.config.validateResult
    if (validate !== undefined) {
      let verdict: boolean | string
      try {
        verdict = validate(a)
      } catch (defect) {
        return this.onFailure(permit, startedAt, now, Cause.die(defect))
      }
      if (verdict !== true) {
        const reason = verdict === false ? "rejected by validateResult" : String(verdict)
        return this.onFailure(
          permit,
          startedAt,
          now,
          Cause.fail(new InvalidResultError({ breaker: this.name, reason }))
        )
      }
    }
    this.successes++
    const slow = this.slowMillis !== undefined && now - startedAt > this.slowMillis
    this.metricLabels().callDuration().update((now - startedAt) / 1000)
    const recorded = this.recordCall("success", slow, now)
    if (permit._tag === "Closed" && !slow && !this.successMatters) {
      // a ledger that keeps no call statistics answers `Effect.void`: nothing to run
      return recorded === Effect.void ? Effect.succeed(a) : Effect.as(recorded, a)
    }
    let effect = recorded
    if (slow) {
      this.slowCalls++
      effect = Effect.zipRight(
        effect,
        this.ledger.recordFailure(
          new FailureRecord({
            breakerName: this.name,
            category: "slow",
            errorType: "SlowCall",
            errorMessage: `call took ${formatMillis(now - startedAt)}, slower than slowCallDuration ${
              formatMillis(this.slowMillis!)
            }`,
            traceback: "",
            createdAt: new Date(now)
          }, { disableValidation: true })
        )
      )
    }
    effect = Effect.zipRight(Effect.catchAllCause(effect, ignore), this.apply({ _tag: "Success", permit, slow }))
    return Effect.as(effect, a)
  }

  // --- running a call ---

  private timed<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CallTimeoutError, R> {
    const timer = this.callTimer
    return timer === undefined ? self : timer.run(self)
  }

  private selfTimedHandle: SelfTimed | undefined

  /** see `selfTimed`: made once, on first use */
  get selfTimed(): SelfTimed {
    return this.selfTimedHandle ??= { timer: this.callTimer, run: (self) => this.executeWith(self, false) }
  }

  /** the deadline list of the call timeout (undefined: `callTimeout: null`), made on first use */
  get callTimer(): Timeout.Deadlines<CallTimeoutError> | undefined {
    const timeoutMillis = this.timeoutMillis
    if (timeoutMillis === undefined) return undefined
    return this.deadlines ??= new Timeout.Deadlines(
      timeoutMillis,
      () => new CallTimeoutError({ breaker: this.name, timeoutMillis }, true)
    )
  }

  /** the call once admitted with `permit` */
  private runAdmitted<A, E, R>(
    self: Effect.Effect<A, E, R>,
    permit: Machine.Permit,
    startedAt: number,
    clock: Clock.Clock,
    restore: Restore,
    timed: boolean
  ): Effect.Effect<A, E | BreakerError, R> {
    this.totalCalls++
    return Effect.matchCauseEffect(
      restore(timed ? this.timed(self) : self),
      handlers(
        (a: A) => this.onSuccess(permit, startedAt, clock.unsafeCurrentTimeMillis(), a),
        (cause: Cause.Cause<E | CallTimeoutError>) =>
          this.onFailure(permit, startedAt, clock.unsafeCurrentTimeMillis(), cause)
      )
    ) as Effect.Effect<A, E | BreakerError, R>
  }

  /** a call when the breaker is not CLOSED: the permit is taken and handed back uninterruptibly */
  private runGuarded<A, E, R>(self: Effect.Effect<A, E, R>, timed: boolean): Effect.Effect<A, E | BreakerError, R> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        const [admission, next, ts] = Machine.admit(this.machine, this.st, now)
        this.st = next
        let result: Effect.Effect<A, E | BreakerError, R>
        switch (admission._tag) {
          case "Closed":
          case "Probe":
            result = this.runAdmitted(self, admission, now, clock, restore, timed)
            if (admission._tag === "Probe" && next.status === "HALF_OPEN" && next.probes === 1) {
              result = Effect.zipRight(this.wakeAt(next.halfOpenUntil, now), result)
            }
            break
          case "PassThrough":
            result = restore(self)
            break
          case "Rejected":
            result = this.reject(this.openError(admission.retryAfterMillis), now)
            break
          case "Isolated":
            result = this.reject(
              Effect.fail(withoutStack(() => new CircuitIsolatedError({ breaker: this.name }, true))),
              now
            )
            break
        }
        return ts.length === 0 ? result : Effect.zipRight(this.announce(ts, now), result)
      })
    )
  }

  private core<A, E, R>(self: Effect.Effect<A, E, R>, timed: boolean): Effect.Effect<A, E | BreakerError, R> {
    return Effect.clockWith((clock) => {
      const s = this.st
      const now = clock.unsafeCurrentTimeMillis()
      const pending = this.sync?.onCall(now)
      let run: Effect.Effect<A, E | BreakerError, R>
      // CLOSED: a closed permit has nothing to hand back, so no uninterruptible region is needed
      if (s.status === "CLOSED") run = this.runAdmitted(self, Machine.CLOSED_PERMIT, now, clock, noRestore, timed)
      // OPEN before its retry time: reject without touching the state
      else if (s.status === "OPEN" && now < s.retryAt) run = this.reject(this.openError(s.retryAt - now), now)
      else run = this.runGuarded(self, timed)
      return pending === undefined ? run : Effect.zipRight(pending, run)
    })
  }

  private throughBulkhead<A, E, R>(
    bulkhead: Bulkhead,
    self: Effect.Effect<A, E, R>,
    timed: boolean
  ): Effect.Effect<A, E | BreakerError, R> {
    return Effect.clockWith((clock): Effect.Effect<A, E | BreakerError, R> => {
      if (bulkhead.inside >= bulkhead.capacity) {
        const full = new BulkheadFullError({ breaker: this.name, maxConcurrent: bulkhead.maxConcurrent })
        return this.reject(Effect.fail(full), clock.unsafeCurrentTimeMillis())
      }
      bulkhead.inside++
      // the slot is taken before the breaker's own work: time in the queue is not under callTimeout
      return Effect.ensuring(bulkhead.semaphore.withPermits(1)(this.core(self, timed)), bulkhead.leave)
    })
  }

  execute<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BreakerError, R> {
    return this.executeWith(self, true)
  }

  /**
   * `self` through the breaker; with `timed: false` the call timeout is left to
   * `self`, which applies it with `callTimer` (see `executeSelfTimed`)
   */
  executeWith<A, E, R>(self: Effect.Effect<A, E, R>, timed: boolean): Effect.Effect<A, E | BreakerError, R> {
    if (!this.config.enabled) return self
    const guarded = this.bulkhead === undefined
      ? this.core(self, timed)
      : this.throughBulkhead(this.bulkhead, self, timed)
    if (!this.config.trace) return guarded
    return guarded.pipe(
      Effect.onExit((exit) => Effect.annotateCurrentSpan(Telemetry.names.outcome, outcomeOf(exit))),
      Effect.withSpan(Telemetry.names.breakerSpan, { attributes: { [Telemetry.names.breaker]: this.name } })
    )
  }

  // --- reading and operating (built when read: most breakers never use most of them) ---

  /** OPEN -> HALF_OPEN (and the halfOpenTimeout) are lazy: reading the state performs them */
  get state(): Effect.Effect<BreakerState> {
    const read = Effect.zipRight(this.apply({ _tag: "Tick" }), Effect.sync(() => this.st.status))
    return this.sync === undefined ? read : Effect.zipRight(this.sync.beforeRead, read)
  }

  get metrics(): Effect.Effect<BreakerMetrics> {
    return Effect.zipRight(
      this.state,
      Effect.clockWith((clock) =>
        Effect.sync((): BreakerMetrics => {
          const s = this.st
          return {
            breakerName: this.name,
            state: s.status,
            totalCalls: this.totalCalls,
            failures: this.failures,
            successes: this.successes,
            rejections: this.rejections,
            timeouts: this.timeouts,
            slowCalls: this.slowCalls,
            failureCount: Machine.failureCount(this.machine, s, clock.unsafeCurrentTimeMillis()),
            lastFailureAt: this.lastFailureAt === null ? null : new Date(this.lastFailureAt),
            openedAt: s.status === "OPEN" || s.status === "HALF_OPEN" ? new Date(s.openedAt) : null
          }
        })
      )
    )
  }

  /** the PubSub is made on the first subscription: most breakers never have one */
  get subscribe(): Effect.Effect<Queue.Dequeue<TransitionRecord>, never, Scope.Scope> {
    return Effect.flatMap(
      Effect.suspend(() =>
        this.pubsub !== undefined
          ? Effect.succeed(this.pubsub)
          : Effect.map(PubSub.sliding<TransitionRecord>(1024), (p) => (this.pubsub ??= p))
      ),
      PubSub.subscribe
    )
  }

  get changes(): Stream.Stream<TransitionRecord> {
    return Stream.unwrapScoped(Effect.map(this.subscribe, (queue) => Stream.fromQueue(queue)))
  }

  get reset(): Effect.Effect<void> {
    return this.apply({ _tag: "Reset" })
  }

  get forceOpen(): Effect.Effect<void> {
    return this.apply({ _tag: "ForceOpen" })
  }

  get disable(): Effect.Effect<void> {
    return this.apply({ _tag: "Disable" })
  }

  get enable(): Effect.Effect<void> {
    return this.apply({ _tag: "Enable" })
  }

  get isolate(): Effect.Effect<void, never, Scope.Scope> {
    return Effect.asVoid(
      Effect.acquireRelease(this.apply({ _tag: "Isolate" }), () => this.apply({ _tag: "Unisolate" }))
    )
  }
}

/**
 * How a caller applies the breaker's call timeout itself (`protectNode`: a
 * plain async node's promise is awaited under the deadline, no child fiber):
 * `run(self)` runs `self` through the breaker without its own timeout, and
 * `self` uses `timer` (undefined: no callTimeout). Undefined for a breaker
 * that is not one of ours (a hand-written `CircuitBreaker`).
 *
 * @internal
 */
export interface SelfTimed {
  readonly timer: Timeout.Deadlines<CallTimeoutError> | undefined
  readonly run: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BreakerError, R>
}

/** @internal */
export const selfTimed = (breaker: CircuitBreaker): SelfTimed | undefined =>
  breaker instanceof BreakerImpl ? breaker.selfTimed : undefined

/** builds a breaker from a decoded config */
export const make = (config: BreakerConfig): Effect.Effect<CircuitBreaker, never, Ledger> =>
  Effect.flatMap(Ledger, (ledger) =>
    Effect.contextWithEffect((context: Context.Context<never>) => {
      const shared = Option.getOrUndefined(Context.getOption(context, SharedState))
      const scope = Option.getOrUndefined(Context.getOption(context, Scope.Scope))
      const breaker = new BreakerImpl(config, ledger, scope, FromConfig.machineOf(config))
      return shared === undefined
        ? Effect.succeed(breaker as CircuitBreaker)
        : Effect.as(breaker.connect(shared), breaker as CircuitBreaker)
    }))
