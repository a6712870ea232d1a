/**
 * Budgets under concurrency (0.2.1): however many calls run at once, a run's or
 * a window's token or cost limit is exceeded by at most one call's spend. Calls
 * in flight count for their expected spend (the largest charge seen, or
 * `estimate`); before any call has ended, one call at a time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Budget, BudgetExceededError, CascadeGuard, Ledger, withBudget } from "agentarmour"
import { Deferred, Effect, Either, Fiber } from "effect"

const make = (options: Budget.BudgetOptions) => Budget.make(options).pipe(Effect.provide(Ledger.layerNoop))

/** a model call: yields (so others interleave), then charges `tokens` */
const call = (tokens: number, counter: { ran: number; spent: number }) =>
  Effect.gen(function*() {
    counter.ran++
    for (let i = 0; i < 3; i++) yield* Effect.yieldNow()
    counter.spent += tokens
    yield* Budget.charge({ tokens })
    return "answer"
  })

const fanOut = (budget: Budget.Budget, n: number, tokens: number) =>
  Effect.gen(function*() {
    const counter = { ran: 0, spent: 0 }
    const results = yield* Effect.forEach(
      Array.from({ length: n }),
      () => Effect.either(call(tokens, counter).pipe(withBudget(budget))),
      { concurrency: "unbounded" }
    )
    return { ...counter, refused: results.filter(Either.isLeft).length }
  })

describe("Budget under concurrency", () => {
  it.effect("perRun tokens 1,000, 100 per call, 1,000 concurrent calls in one run: 10 run, 1,000 tokens spent", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "fanout", perRun: { tokens: 1000 } })
      const r = yield* fanOut(budget, 1000, 100).pipe(CascadeGuard.withRun("run-1"))
      // 0.2.0: 780 calls ran and 78,000 tokens were spent
      expect(r.spent).toBeLessThanOrEqual(1000 + 100)
      expect(r.ran).toBe(10)
      expect(r.refused).toBe(990)
    }))

  it.effect("perWindow tokens: the same fan-out spends at most the limit plus one call", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "fanout-window", perWindow: { tokens: 1000, window: "1 hour" } })
      const r = yield* fanOut(budget, 1000, 100)
      expect(r.spent).toBeLessThanOrEqual(1000 + 100)
      expect(r.ran).toBeGreaterThanOrEqual(10)
    }))

  it.effect("perRun costUsd holds the same way", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "fanout-cost", perRun: { costUsd: 1 } })
      let spent = 0
      const results = yield* Effect.forEach(
        Array.from({ length: 200 }),
        () =>
          Effect.either(
            Effect.gen(function*() {
              yield* Effect.yieldNow()
              spent += 0.25
              yield* Budget.charge({ costUsd: 0.25 })
            }).pipe(withBudget(budget))
          ),
        { concurrency: "unbounded" }
      ).pipe(CascadeGuard.withRun("r"))
      expect(spent).toBeLessThanOrEqual(1 + 0.25)
      expect(results.filter(Either.isRight).length).toBe(4)
    }))

  it.effect("before any call has ended, calls run one at a time; the second starts when the first ends", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "first", perRun: { tokens: 1000 } })
      const gate = yield* Deferred.make<void>()
      let started = 0
      const slow = Effect.gen(function*() {
        started++
        yield* Deferred.await(gate)
        yield* Budget.charge({ tokens: 10 })
      }).pipe(withBudget(budget))
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(slow), { concurrency: "unbounded" })
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      expect(started).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.joinAll(fibers)
      expect(started).toBe(3)
    }).pipe(CascadeGuard.withRun("r")))

  it.effect("estimate: calls in flight are counted at the estimate from the first call on", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "estimated", perRun: { tokens: 1000 }, estimate: { tokens: 250 } })
      const gate = yield* Deferred.make<void>()
      let started = 0
      const slow = Effect.gen(function*() {
        started++
        yield* Deferred.await(gate)
        yield* Budget.charge({ tokens: 250 })
      }).pipe(withBudget(budget))
      const fibers = yield* Effect.forEach(Array.from({ length: 10 }), () => Effect.fork(slow))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      // 4 x 250 reaches the limit: the 5th waits
      expect(started).toBe(4)
      yield* Deferred.succeed(gate, undefined)
      const exits = yield* Effect.forEach(fibers, (f) => Effect.either(Fiber.join(f)))
      expect(started).toBe(4)
      expect(exits.filter(Either.isLeft).map((e) => (e as any).left)).toEqual(
        Array.from({ length: 6 }, () => expect.any(BudgetExceededError))
      )
    }).pipe(CascadeGuard.withRun("r")))

  it.effect("a call that fails or is interrupted gives its reservation back", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "release", perRun: { tokens: 100 }, estimate: { tokens: 60 } })
      yield* Effect.either(Effect.fail("boom").pipe(withBudget(budget)))
      const hung = yield* Effect.fork(Effect.never.pipe(withBudget(budget)))
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      yield* Fiber.interrupt(hung)
      // both reservations are back: a call runs at once
      expect(yield* Effect.succeed("ran").pipe(withBudget(budget))).toBe("ran")
    }).pipe(CascadeGuard.withRun("r")))

  it.effect("a bad estimate is a ParseError naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(make({ name: "bad", perRun: { tokens: 10 }, estimate: { tokens: -1 } }))
      expect(error._tag).toBe("ParseError")
      expect(error.message).toContain("estimate")
    }))
})
