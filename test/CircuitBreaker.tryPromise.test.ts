import { describe, expect, it } from "@effect/vitest"
import { BreakerRegistry, CircuitBreaker, Ledger } from "agentarmour"
import { Cause, Effect, Either, Exit, Fiber, TestClock } from "effect"

const run = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, Ledger.layerMemory)

/** a promise that never settles, and the signal it was given */
const hanging = () => {
  const seen: { signal?: AbortSignal } = {}
  const evaluate = (signal: AbortSignal) => {
    seen.signal = signal
    return new Promise<string>(() => {})
  }
  return { seen, evaluate }
}

describe("CircuitBreaker.tryPromise", () => {
  it.effect("returns what the promise resolves with, and counts a success", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "llm" })
      const answer = yield* CircuitBreaker.tryPromise(b, () => Promise.resolve("hello"))
      expect(answer).toBe("hello")
      const m = yield* b.metrics
      expect([m.totalCalls, m.successes, m.failures]).toEqual([1, 1, 0])
    })))

  it.effect("at callTimeout the signal is aborted with the CallTimeoutError and the call fails with it (TestClock)", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "llm", callTimeout: "2 seconds" })
      const { evaluate, seen } = hanging()
      const fiber = yield* Effect.fork(CircuitBreaker.tryPromise(b, evaluate))
      yield* TestClock.adjust("1999 millis")
      expect(seen.signal?.aborted).toBe(false)
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toMatchObject({
        _tag: "CallTimeoutError",
        breaker: "llm",
        timeoutMillis: 2000
      })
      expect(seen.signal?.aborted).toBe(true)
      expect(seen.signal?.reason).toMatchObject({ _tag: "CallTimeoutError" })
      expect((yield* b.metrics).timeouts).toBe(1)
    })))

  it.effect("a rejection fails with UnknownException, or with what catch makes of it; both are counted", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "llm", failureThreshold: 5 })
      const plain = yield* Effect.either(CircuitBreaker.tryPromise(b, () => Promise.reject(new Error("503"))))
      expect(Either.isLeft(plain) && plain.left).toBeInstanceOf(Cause.UnknownException)
      const mapped = yield* Effect.either(
        CircuitBreaker.tryPromise(b, {
          try: () => Promise.reject(new Error("429")),
          catch: (e) => ({ _tag: "RateLimited" as const, cause: e })
        })
      )
      expect(Either.isLeft(mapped) && mapped.left).toMatchObject({ _tag: "RateLimited" })
      const thrown = yield* Effect.either(CircuitBreaker.tryPromise(b, () => {
        throw new Error("sync throw")
      }))
      expect(Either.isLeft(thrown) && thrown.left).toBeInstanceOf(Cause.UnknownException)
      expect((yield* b.metrics).failures).toBe(3)
    })))

  it.effect("interrupting the caller aborts the signal", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "llm" })
      const { evaluate, seen } = hanging()
      const fiber = yield* Effect.fork(CircuitBreaker.tryPromise(b, evaluate))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      expect(seen.signal?.aborted).toBe(true)
    })))

  it.effect("an OPEN breaker fails fast without calling the function", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "llm" })
      yield* b.forceOpen
      let called = false
      const result = yield* Effect.either(CircuitBreaker.tryPromise(b, () => {
        called = true
        return Promise.resolve(1)
      }))
      expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "CircuitOpenError" })
      expect(called).toBe(false)
    })))

  it.effect("with callTimeout null nothing times out; interruption still aborts", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "llm", callTimeout: null, halfOpenTimeout: "1 hour" })
      const { evaluate, seen } = hanging()
      const fiber = yield* Effect.fork(CircuitBreaker.tryPromise(b, evaluate))
      yield* TestClock.adjust("10 minutes")
      expect(fiber.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(fiber)
      expect(seen.signal?.aborted).toBe(true)
    })))

  it.effect("accepts a registry name, like withBreaker", () =>
    Effect.gen(function*() {
      const answer = yield* CircuitBreaker.tryPromise("named", () => Promise.resolve(42))
      expect(answer).toBe(42)
    }).pipe(Effect.provide(BreakerRegistry.layer()), run))
})
