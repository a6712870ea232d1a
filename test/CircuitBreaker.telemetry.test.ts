import { describe, expect, it } from "@effect/vitest"
import { CircuitBreaker, Ledger, Telemetry, withBreaker } from "agentarmour"
import { Cause, Effect, Metric, Option, TestClock } from "effect"

const fail = Effect.fail(new Error("boom"))

/** a memory ledger that also keeps the calls and failure causes it was given */
const recording = Effect.gen(function*() {
  const memory = yield* Ledger.makeMemory()
  const calls: Array<Ledger.CallRecord> = []
  const causes: Array<Ledger.FailureInput> = []
  const ledger = Ledger.make({
    ...memory,
    recordCall: (r) => Effect.sync(() => calls.push(r)),
    recordFailureCause: (f) => Effect.sync(() => causes.push(f))
  })
  return { ledger, calls, causes }
})

const counter = (breaker: string, outcome: string) =>
  Metric.value(Telemetry.calls.pipe(Metric.tagged("breaker", breaker), Metric.tagged("outcome", outcome))).pipe(
    Effect.map((s) => s.count)
  )

describe("breaker telemetry", () => {
  it.effect("recordCall once per call (rejections included) and recordFailureCause with the cause, unrendered", () =>
    Effect.gen(function*() {
      const { calls, causes, ledger } = yield* recording
      yield* Effect.gen(function*() {
        const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, callTimeout: null })
        yield* Effect.succeed(1).pipe(withBreaker(b))
        yield* Effect.either(fail.pipe(withBreaker(b)))
        yield* Effect.either(Effect.succeed(1).pipe(withBreaker(b)))
      }).pipe(Effect.provideService(Ledger.Ledger, ledger))
      expect(calls.map((c) => c.outcome)).toEqual(["success", "failure", "rejected"])
      expect(calls.every((c) => c.breakerName === "t" && c.slow === false)).toBe(true)
      expect(causes).toHaveLength(1)
      expect(causes[0]!.category).toBe("exception")
      expect(Cause.squash(causes[0]!.cause)).toEqual(new Error("boom"))
    }))

  it.effect("agentarmour_calls_total counts by breaker and outcome; the duration histogram counts calls that ran", () =>
    Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "metrics-1", failureThreshold: 2, callTimeout: "1 second" })
      yield* Effect.succeed(1).pipe(withBreaker(b))
      yield* Effect.either(fail.pipe(withBreaker(b)))
      const timeout = yield* Effect.fork(Effect.either(Effect.never.pipe(withBreaker(b))))
      yield* TestClock.adjust("1 second")
      yield* timeout
      yield* Effect.either(Effect.succeed(1).pipe(withBreaker(b)))
      expect(yield* counter("metrics-1", "success")).toBe(1)
      expect(yield* counter("metrics-1", "failure")).toBe(1)
      expect(yield* counter("metrics-1", "timeout")).toBe(1)
      expect(yield* counter("metrics-1", "rejected")).toBe(1)
      const histogram = yield* Metric.value(Telemetry.callDuration.pipe(Metric.tagged("breaker", "metrics-1")))
      expect(histogram.count).toBe(3)
      expect(histogram.max).toBeCloseTo(1, 3)
    }).pipe(Effect.provide(Ledger.layerNoop)))

  it.effect("agentarmour_breaker_state follows the state (0 CLOSED, 1 OPEN, 2 HALF_OPEN, 4 DISABLED)", () =>
    Effect.gen(function*() {
      const gauge = Metric.value(Telemetry.breakerState.pipe(Metric.tagged("breaker", "metrics-2"))).pipe(
        Effect.map((g) => g.value)
      )
      const b = yield* CircuitBreaker.make({ name: "metrics-2", failureThreshold: 1, recoveryTimeout: "1 second" })
      expect(yield* gauge).toBe(0)
      yield* Effect.either(fail.pipe(withBreaker(b)))
      expect(yield* gauge).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* b.state
      expect(yield* gauge).toBe(2)
      yield* b.disable
      expect(yield* gauge).toBe(4)
    }).pipe(Effect.provide(Ledger.layerNoop)))

  it.effect("trace: true runs each call in a span agentarmour.breaker with the breaker and the outcome", () =>
    Effect.gen(function*() {
      const traced = yield* CircuitBreaker.make({ name: "traced", trace: true })
      const plain = yield* CircuitBreaker.make({ name: "plain" })
      const span = yield* Effect.currentSpan.pipe(Effect.orDie, withBreaker(traced))
      expect(span.name).toBe("agentarmour.breaker")
      expect(span.attributes.get("agentarmour.breaker")).toBe("traced")
      expect(span.attributes.get("agentarmour.outcome")).toBe("success")
      const outer = yield* Effect.currentSpan.pipe(Effect.option, withBreaker(plain))
      expect(Option.map(outer, (s) => s.name)).toEqual(Option.none())
    }).pipe(Effect.provide(Ledger.layerNoop)))
})
