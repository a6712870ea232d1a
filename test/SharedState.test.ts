import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, TestClock } from "effect"
import { CircuitBreaker, Ledger, withBreaker } from "agentarmour"
import { SharedState } from "agentarmour/pg"

/** one "process": its own ledger and its own view of the shared board */
const processOn = (board: Map<string, SharedState.SharedBreakerState>) =>
  Layer.mergeAll(Ledger.layerMemory, SharedState.layerMemory(board, { syncInterval: "1 second" }))

const makeIn = (layer: Layer.Layer<Ledger.Ledger | SharedState.SharedState>) =>
  CircuitBreaker.make({ name: "research", failureThreshold: 2, recoveryTimeout: "30 seconds" }).pipe(Effect.provide(layer))

const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("SharedState", () => {
  it.effect("a breaker opened in one process is OPEN in another within syncInterval, and closes with it", () =>
    Effect.gen(function*() {
      const board = new Map<string, SharedState.SharedBreakerState>()
      const a = yield* makeIn(processOn(board))
      const b = yield* makeIn(processOn(board))
      yield* Effect.either(Effect.fail("503").pipe(withBreaker(a)))
      yield* Effect.either(Effect.fail("503").pipe(withBreaker(a)))
      yield* settle
      expect(board.get("research")?.state).toBe("OPEN")

      expect(yield* b.state).toBe("OPEN")
      let calls = 0
      const rejected = yield* Effect.either(Effect.sync(() => ++calls).pipe(withBreaker(b)))
      expect(Either.getLeft(rejected).pipe((e) => e._tag === "Some" && e.value._tag)).toBe("CircuitOpenError")
      expect(calls).toBe(0)

      // process A probes after the recovery timeout and closes; B follows on its next sync
      yield* TestClock.adjust("30 seconds")
      yield* Effect.succeed("ok").pipe(withBreaker(a))
      yield* settle
      expect(yield* a.state).toBe("CLOSED")
      expect(yield* b.state).toBe("CLOSED")
      expect(yield* Effect.succeed("ok").pipe(withBreaker(b))).toBe("ok")
    }))

  it.effect("without a SharedState service breakers of the same name stay independent", () =>
    Effect.gen(function*() {
      const a = yield* CircuitBreaker.make({ name: "research", failureThreshold: 1 }).pipe(Effect.provide(Ledger.layerMemory))
      const b = yield* CircuitBreaker.make({ name: "research", failureThreshold: 1 }).pipe(Effect.provide(Ledger.layerMemory))
      yield* Effect.either(Effect.fail("x").pipe(withBreaker(a)))
      yield* settle
      expect(yield* a.state).toBe("OPEN")
      expect(yield* b.state).toBe("CLOSED")
    }))

  it.effect("an older shared state never overrides a newer local one", () =>
    Effect.gen(function*() {
      const board = new Map<string, SharedState.SharedBreakerState>()
      const b = yield* makeIn(processOn(board))
      yield* TestClock.adjust("10 seconds")
      yield* Effect.either(Effect.fail("x").pipe(withBreaker(b)))
      yield* Effect.either(Effect.fail("x").pipe(withBreaker(b)))
      // another process says CLOSED, but from before B opened
      board.set("research", { breaker: "research", state: "CLOSED", openedAt: 0, retryAt: null, updatedAt: 5_000, origin: "other" })
      yield* TestClock.adjust("2 seconds")
      expect(yield* b.state).toBe("OPEN")
    }))
})
