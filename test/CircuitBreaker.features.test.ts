import { describe, expect, it } from "@effect/vitest"
import {
  BulkheadFullError,
  CircuitBreaker,
  CircuitIsolatedError,
  CircuitOpenError,
  InvalidResultError,
  Ledger,
  withBreaker
} from "agentarmour"
import { Chunk, Deferred, Effect, Exit, Fiber, Option, Queue, Scope, TestClock } from "effect"

import { attempt, Boom, fail, ok, run } from "./support/breaker.js"

describe("validateResult", () => {
  it.effect("a success validateResult rejects fails with InvalidResultError, counts, and is recorded as invalid_result", () =>
    run(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const b = yield* CircuitBreaker.make({
        name: "llm",
        failureThreshold: 2,
        validateResult: (v) => v === "" ? "empty answer" : typeof v === "string"
      })
      const empty = yield* Effect.flip(Effect.succeed("").pipe(withBreaker(b)))
      expect(empty).toEqual(new InvalidResultError({ breaker: "llm", reason: "empty answer" }))
      const number = yield* Effect.flip(Effect.succeed(42).pipe(withBreaker(b)))
      expect(number).toEqual(new InvalidResultError({ breaker: "llm", reason: "rejected by validateResult" }))
      expect(yield* b.state).toBe("OPEN")
      const [f] = yield* ledger.failures()
      expect(f).toMatchObject({ category: "invalid_result", errorType: "InvalidResultError" })
      expect(f!.errorMessage).toContain("rejected by validateResult")
    })))

  it.effect("a success validateResult accepts passes unchanged", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, validateResult: (v) => v === "ok" })
      expect(yield* ok.pipe(withBreaker(b))).toBe("ok")
      expect((yield* b.metrics).failures).toBe(0)
    })))
})

describe("HALF_OPEN options", () => {
  it.effect("halfOpenSuccesses: one lucky probe does not close the breaker", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 1,
        recoveryTimeout: "1 second",
        halfOpenSuccesses: 3
      })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("1 second")
      yield* ok.pipe(withBreaker(b))
      yield* ok.pipe(withBreaker(b))
      expect(yield* b.state).toBe("HALF_OPEN")
      yield* ok.pipe(withBreaker(b))
      expect(yield* b.state).toBe("CLOSED")
    })))

  it.effect("halfOpenSuccesses: a failed probe after successes reopens", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 1,
        recoveryTimeout: "1 second",
        halfOpenSuccesses: 2
      })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("1 second")
      yield* ok.pipe(withBreaker(b))
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("OPEN")
    })))

  it.effect("halfOpenTimeout reopens a HALF_OPEN held by a stuck probe, whose late outcome is then ignored", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 1,
        recoveryTimeout: "1 second",
        callTimeout: "1 minute",
        halfOpenTimeout: "5 seconds"
      })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("1 second")
      const gate = yield* Deferred.make<void>()
      const stuck = yield* Effect.fork(Deferred.await(gate).pipe(withBreaker(b)))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("5 seconds")
      expect(yield* b.state).toBe("OPEN")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(stuck)
      expect(yield* b.state).toBe("OPEN")
    })))
})

describe("counting modes", () => {
  it.effect("failureMode consecutive: failures in a row trip, a success resets the run", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 2, failureMode: "consecutive" })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* ok.pipe(withBreaker(b))
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("CLOSED")
      yield* TestClock.adjust("1 hour") // no window: old failures in a run still count
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("OPEN")
    })))

  it.effect("countWindow: the failure rate over the last N calls, whatever their age", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 100,
        failureRateThreshold: 0.5,
        minimumCalls: 4,
        countWindow: 4,
        windowSize: "1 second"
      })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("1 hour")
      yield* ok.pipe(withBreaker(b))
      yield* ok.pipe(withBreaker(b))
      expect(yield* b.state).toBe("CLOSED")
      yield* attempt(fail.pipe(withBreaker(b))) // 2 of the last 4
      expect(yield* b.state).toBe("OPEN")
    })))

  it.effect("slow failures count toward the slow-call rate", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 100,
        slowCallDuration: "1 second",
        slowCallRateThreshold: 1,
        minimumCalls: 2
      })
      const slowFail = yield* Effect.fork(
        attempt(Effect.sleep("2 seconds").pipe(Effect.zipRight(fail), withBreaker(b)))
      )
      const slowFail2 = yield* Effect.fork(
        attempt(Effect.sleep("2 seconds").pipe(Effect.zipRight(fail), withBreaker(b)))
      )
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(slowFail)
      yield* Fiber.join(slowFail2)
      expect(yield* b.state).toBe("OPEN")
      expect((yield* b.metrics).slowCalls).toBe(2)
    })))
})

describe("autoHalfOpen", () => {
  it.scoped("OPEN -> HALF_OPEN on the clock, announced on changes and in the ledger without any call or read", () =>
    run(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const b = yield* CircuitBreaker.make({
        name: "idle",
        failureThreshold: 1,
        recoveryTimeout: "10 seconds",
        autoHalfOpen: true
      })
      const changes = yield* b.subscribe
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("10 seconds")
      const seen = Chunk.toReadonlyArray(yield* Queue.takeAll(changes)).map((t) => `${t.fromState}->${t.toState}`)
      expect(seen).toEqual(["CLOSED->OPEN", "OPEN->HALF_OPEN"])
      expect((yield* ledger.transitions({ breaker: "idle" }))[0]!.toState).toBe("HALF_OPEN")
    })))

  /** closes the scope without moving the TestClock: done within a few scheduler turns, or never */
  const closesAtOnce = (scope: Scope.CloseableScope) =>
    Effect.gen(function*() {
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      for (let i = 0; i < 100 && Option.isNone(yield* Fiber.poll(closing)); i++) yield* Effect.yieldNow()
      return Option.isSome(yield* Fiber.poll(closing))
    })

  it.effect("a Scope holding an autoHalfOpen breaker closes at once after a probe closed it (no wait for halfOpenTimeout)", () =>
    run(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const b = yield* CircuitBreaker.make({
        name: "idle",
        failureThreshold: 1,
        recoveryTimeout: "10 seconds",
        halfOpenTimeout: "30 seconds",
        autoHalfOpen: true
      }).pipe(Scope.extend(scope))
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("10 seconds")
      expect(yield* b.state).toBe("HALF_OPEN")
      yield* ok.pipe(withBreaker(b))
      expect(yield* b.state).toBe("CLOSED")
      // 0.2.0: the halfOpenTimeout wake-up was uninterruptible and held the close for 30 s
      expect(yield* closesAtOnce(scope)).toBe(true)
    })))

  it.effect("a Scope holding an autoHalfOpen breaker with a hung probe closes at once", () =>
    run(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const b = yield* CircuitBreaker.make({
        name: "idle",
        failureThreshold: 1,
        recoveryTimeout: "10 seconds",
        halfOpenTimeout: "45 seconds",
        callTimeout: null,
        autoHalfOpen: true
      }).pipe(Scope.extend(scope))
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("10 seconds")
      const probe = yield* Effect.fork(Effect.never.pipe(withBreaker(b)))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      expect(yield* closesAtOnce(scope)).toBe(true)
      yield* Fiber.interrupt(probe)
    })))

  it.scoped("without autoHalfOpen nothing happens until someone looks", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "idle", failureThreshold: 1, recoveryTimeout: "10 seconds" })
      const changes = yield* b.subscribe
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("10 seconds")
      expect(Chunk.size(yield* Queue.takeAll(changes))).toBe(1)
    })))
})

describe("isolate, disable, enable", () => {
  it.effect("isolate: calls fail with CircuitIsolatedError while a scope is open; nested scopes count", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t" })
      const outer = yield* Scope.make()
      const inner = yield* Scope.make()
      yield* Scope.extend(b.isolate, outer)
      yield* Scope.extend(b.isolate, inner)
      expect(yield* b.state).toBe("ISOLATED")
      let ran = false
      const e = yield* Effect.flip(Effect.sync(() => (ran = true)).pipe(withBreaker(b)))
      expect(e).toBeInstanceOf(CircuitIsolatedError)
      expect(ran).toBe(false)
      yield* Scope.close(inner, Exit.void)
      expect(yield* b.state).toBe("ISOLATED")
      yield* Scope.close(outer, Exit.void)
      expect(yield* b.state).toBe("CLOSED")
      expect(yield* ok.pipe(withBreaker(b))).toBe("ok")
      expect((yield* b.metrics).rejections).toBe(1)
    })))

  it.effect("while isolated, forceOpen waits its turn and applies when the isolation ends", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t" })
      const scope = yield* Scope.make()
      yield* Scope.extend(b.isolate, scope)
      yield* b.forceOpen
      expect(yield* b.state).toBe("ISOLATED")
      yield* Scope.close(scope, Exit.void)
      expect(yield* b.state).toBe("OPEN")
      expect(yield* Effect.flip(ok.pipe(withBreaker(b)))).toBeInstanceOf(CircuitOpenError)
    })))

  it.effect("disable: DISABLED, calls pass through and nothing is counted until enable", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1 })
      yield* b.disable
      expect(yield* b.state).toBe("DISABLED")
      for (let i = 0; i < 3; i++) expect(yield* Effect.flip(fail.pipe(withBreaker(b)))).toBeInstanceOf(Boom)
      expect(yield* b.state).toBe("DISABLED")
      expect((yield* b.metrics).failures).toBe(0)
      yield* b.enable
      expect(yield* b.state).toBe("CLOSED")
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("OPEN")
    })))
})

describe("bulkhead", () => {
  it.effect("maxConcurrent calls run; maxQueued wait; beyond, BulkheadFullError, a rejection and not a failure", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, maxConcurrent: 2, maxQueued: 1 })
      const gate = yield* Deferred.make<void>()
      let running = 0
      let peak = 0
      const node = Effect.acquireUseRelease(
        Effect.sync(() => peak = Math.max(peak, ++running)),
        () => Deferred.await(gate),
        () => Effect.sync(() => running--)
      )
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(node.pipe(withBreaker(b))))
      yield* Effect.yieldNow()
      const full = yield* Effect.flip(ok.pipe(withBreaker(b)))
      expect(full).toEqual(new BulkheadFullError({ breaker: "t", maxConcurrent: 2 }))
      expect(peak).toBe(2)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.joinAll(fibers)
      expect(peak).toBe(2)
      const m = yield* b.metrics
      expect(m).toMatchObject({ state: "CLOSED", failures: 0, rejections: 1, successes: 3 })
    })))

  it.effect("time spent in the queue does not count against callTimeout", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", maxConcurrent: 1, maxQueued: 1, callTimeout: "1 second" })
      const first = yield* Effect.fork(Effect.sleep("900 millis").pipe(withBreaker(b)))
      yield* Effect.yieldNow()
      const second = yield* Effect.fork(Effect.sleep("900 millis").pipe(Effect.as("second"), withBreaker(b)))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("900 millis")
      yield* Fiber.join(first)
      yield* TestClock.adjust("900 millis")
      expect(yield* Fiber.join(second)).toBe("second")
      expect((yield* b.metrics).timeouts).toBe(0)
    })))
})
