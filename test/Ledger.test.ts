import { describe, expect, it } from "@effect/vitest"
import { Ledger } from "agentarmour"
import { Effect, TestClock } from "effect"

const failure = (breakerName: string, at: number) =>
  new Ledger.FailureRecord({
    breakerName,
    category: "exception",
    errorType: "Error",
    errorMessage: "boom",
    traceback: "Error: boom",
    createdAt: new Date(at)
  })

describe("Ledger.layerMemory", () => {
  it.effect("returns failures newest first, filtered by breaker and limited", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      for (let i = 0; i < 5; i++) yield* ledger.recordFailure(failure(i % 2 === 0 ? "a" : "b", i))
      const all = yield* ledger.failures()
      expect(all.map((f) => f.createdAt.getTime())).toEqual([4, 3, 2, 1, 0])
      const a = yield* ledger.failures({ breaker: "a", limit: 2 })
      expect(a.map((f) => f.createdAt.getTime())).toEqual([4, 2])
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("summary reports the newest transition's state and failures of the last 24 hours", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* TestClock.setTime(2 * 24 * 3600_000)
      yield* ledger.recordFailure(failure("a", 0))
      yield* ledger.recordFailure(failure("a", 2 * 24 * 3600_000 - 1000))
      yield* ledger.recordTransition(
        new Ledger.TransitionRecord({
          breakerName: "a",
          fromState: "CLOSED",
          toState: "OPEN",
          reason: "x",
          createdAt: new Date(10)
        })
      )
      const [s] = yield* ledger.summary
      expect(s).toMatchObject({ breakerName: "a", state: "OPEN", failuresTotal: 2, failuresLast24h: 1, transitions: 1 })
    }).pipe(Effect.provide(Ledger.layerMemory)))
})
