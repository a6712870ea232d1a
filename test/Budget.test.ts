import { describe, expect, it } from "@effect/vitest"
import {
  Budget,
  BudgetExceededError,
  CascadeGuard,
  CircuitBreaker,
  Fallback,
  Ledger,
  withBreaker,
  withBudget
} from "agentarmour"
import { Effect, Either, Exit, Fiber, TestClock } from "effect"

import { recordingLedger } from "./support/ledger.js"

/** a node that counts its calls and charges what it is told */
const node = (spend: Budget.Usage = {}) => {
  let runs = 0
  const call = Effect.suspend(() => {
    runs++
    return Effect.as(Budget.charge(spend), "answer")
  })
  return { call, runs: () => runs }
}

const make = (options: Budget.BudgetOptions) => Budget.make(options).pipe(Effect.provide(Ledger.layerNoop))

describe("Budget per run", () => {
  it.effect("a limit of N calls allows N calls, then refuses without running the node", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "research", perRun: { calls: 2 } })
      const n = node()
      yield* n.call.pipe(withBudget(budget))
      yield* n.call.pipe(withBudget(budget))
      const error = yield* Effect.flip(n.call.pipe(withBudget(budget)))
      expect(n.runs()).toBe(2)
      expect(error).toBeInstanceOf(BudgetExceededError)
      expect(error).toMatchObject({ budget: "research", scope: "run", limit: 2, spent: 2, retryAfterMillis: null })
      expect(error.message).toContain("research")
    }))

  it.effect("the call that crosses the cost limit completes and is charged; the next is refused", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "research", perRun: { costUsd: 1 } })
      const n = node({ costUsd: 0.6 })
      expect(yield* n.call.pipe(withBudget(budget))).toBe("answer")
      expect(yield* n.call.pipe(withBudget(budget))).toBe("answer") // 0.6 -> 1.2: crosses, still answers
      expect((yield* budget.spent).run.costUsd).toBeCloseTo(1.2)
      const error = yield* Effect.flip(n.call.pipe(withBudget(budget)))
      expect(error).toMatchObject({ scope: "run", resource: "costUsd", limit: 1, retryAfterMillis: null })
      expect(error.spent).toBeCloseTo(1.2)
      expect(n.runs()).toBe(2)
    }))

  it.effect("tokens refuse once spent reaches the limit exactly", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "t", perRun: { tokens: 100 } })
      const n = node({ tokensIn: 60, tokensOut: 40 })
      yield* n.call.pipe(withBudget(budget))
      const error = yield* Effect.flip(n.call.pipe(withBudget(budget)))
      expect(error).toMatchObject({ resource: "tokens", spent: 100, limit: 100 })
    }))

  it.effect("runs are isolated: a spent run does not refuse another; outside a run is one default run", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "r", perRun: { calls: 1 } })
      const n = node()
      yield* n.call.pipe(withBudget(budget), CascadeGuard.withRun("A"))
      const refusedA = yield* Effect.either(n.call.pipe(withBudget(budget), CascadeGuard.withRun("A")))
      expect(Either.isLeft(refusedA)).toBe(true)
      yield* n.call.pipe(withBudget(budget), CascadeGuard.withRun("B"))
      yield* n.call.pipe(withBudget(budget))
      const refusedDefault = yield* Effect.either(n.call.pipe(withBudget(budget)))
      expect(Either.isLeft(refusedDefault)).toBe(true)
      expect(n.runs()).toBe(3)
    }))

  it.effect("concurrent calls: exactly N of many run under a limit of N calls", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "c", perRun: { calls: 10 }, perWindow: { calls: 15, window: "1 minute" } })
      const n = node()
      const call = Effect.zipRight(Effect.sleep("1 second"), n.call)
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 100 }, () => Effect.either(withBudget(call, budget))), {
          concurrency: "unbounded"
        })
      )
      yield* TestClock.adjust("1 second")
      const results = yield* Fiber.join(fiber)
      expect(results.filter(Either.isRight).length).toBe(10)
      expect(n.runs()).toBe(10)
    }))

  it.effect("onExceeded wait does not wait on a run limit (it never comes back): it refuses", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "r", perRun: { calls: 1 }, onExceeded: "wait" })
      yield* Effect.void.pipe(withBudget(budget))
      const error = yield* Effect.flip(Effect.void.pipe(withBudget(budget)))
      expect(error.scope).toBe("run")
    }))

  it.effect("per-run memory is bounded: many runs keep at most maxRuns, idle runs are forgotten", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "many", perRun: { calls: 5 }, maxRuns: 100, runIdleTimeout: "10 minutes" })
      for (let i = 0; i < 5_000; i++) {
        yield* Effect.void.pipe(withBudget(budget), CascadeGuard.withRun(`run-${i}`))
      }
      expect(yield* budget.trackedRuns).toBe(100)
      yield* TestClock.adjust("10 minutes")
      expect(yield* budget.trackedRuns).toBe(0)
    }))

  it.effect("a run refused before the eviction of others keeps its spend while it is recent", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "lru", perRun: { calls: 1 }, maxRuns: 2 })
      yield* Effect.void.pipe(withBudget(budget), CascadeGuard.withRun("A"))
      yield* Effect.void.pipe(withBudget(budget), CascadeGuard.withRun("B"))
      const again = yield* Effect.either(Effect.void.pipe(withBudget(budget), CascadeGuard.withRun("A")))
      expect(Either.isLeft(again)).toBe(true)
      expect(yield* budget.trackedRuns).toBe(2)
    }))
})

describe("Budget per window", () => {
  it.effect("N calls per window, then refused with the time until the window resets; then allowed again", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "w", perWindow: { calls: 3, window: "1 minute" } })
      const n = node()
      for (let i = 0; i < 3; i++) yield* n.call.pipe(withBudget(budget))
      yield* TestClock.adjust("20 seconds")
      const error = yield* Effect.flip(n.call.pipe(withBudget(budget)))
      expect(error).toMatchObject({ scope: "window", resource: "calls", limit: 3, retryAfterMillis: 40_000 })
      expect(n.runs()).toBe(3)
      yield* TestClock.adjust("40 seconds")
      yield* n.call.pipe(withBudget(budget))
      expect(n.runs()).toBe(4)
    }))

  it.effect("window tokens are shared by all runs; the crossing call is charged; the window resets", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "w", perWindow: { tokens: 1000, window: "1 minute" } })
      const n = node({ tokens: 700 })
      yield* n.call.pipe(withBudget(budget), CascadeGuard.withRun("A"))
      yield* TestClock.adjust("10 seconds")
      yield* n.call.pipe(withBudget(budget), CascadeGuard.withRun("B")) // 700 -> 1400
      const error = yield* Effect.flip(n.call.pipe(withBudget(budget), CascadeGuard.withRun("C")))
      expect(error).toMatchObject({
        scope: "window",
        resource: "tokens",
        limit: 1000,
        spent: 1400,
        retryAfterMillis: 50_000
      })
      yield* TestClock.adjust("50 seconds")
      yield* n.call.pipe(withBudget(budget), CascadeGuard.withRun("C"))
      expect(n.runs()).toBe(3)
    }))

  it.effect("window cost refuses once spent reaches the limit", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "w", perWindow: { costUsd: 0.5, window: "1 hour" } })
      yield* node({ costUsd: 0.5 }).call.pipe(withBudget(budget))
      const error = yield* Effect.flip(Effect.void.pipe(withBudget(budget)))
      expect(error).toMatchObject({ resource: "costUsd", retryAfterMillis: 3_600_000 })
    }))

  it.effect("onExceeded wait: the call waits for the window to reset, then runs", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "w", perWindow: { calls: 1, window: "1 minute" }, onExceeded: "wait" })
      const n = node()
      yield* n.call.pipe(withBudget(budget))
      const fiber = yield* Effect.fork(n.call.pipe(withBudget(budget)))
      yield* TestClock.adjust("59 seconds")
      expect(fiber.unsafePoll()).toBeNull()
      expect(n.runs()).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("answer")
      expect(n.runs()).toBe(2)
    }))

  it.effect("onExceeded wait on window tokens waits for the window, then runs", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "w", perWindow: { tokens: 10, window: "30 seconds" }, onExceeded: "wait" })
      const n = node({ tokens: 10 })
      yield* n.call.pipe(withBudget(budget))
      const fiber = yield* Effect.fork(n.call.pipe(withBudget(budget)))
      yield* TestClock.adjust("29 seconds")
      expect(n.runs()).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(n.runs()).toBe(2)
    }))

  it.effect("a refused window call does not use up the run's calls", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "w", perRun: { calls: 2 }, perWindow: { calls: 1, window: "1 minute" } })
      yield* Effect.void.pipe(withBudget(budget))
      yield* Effect.either(Effect.void.pipe(withBudget(budget)))
      expect((yield* budget.spent).run.calls).toBe(1)
      yield* TestClock.adjust("1 minute")
      yield* Effect.void.pipe(withBudget(budget))
      expect((yield* budget.spent).run.calls).toBe(2)
    }))

  it.effect("a custom BudgetStore service holds the window spend", () =>
    Effect.gen(function*() {
      const added: Array<string> = []
      const store: Budget.BudgetStore = {
        takeCall: () => Effect.succeed({ taken: true }),
        spent: () => Effect.succeed({ spent: 0, resetAfterMillis: 1000 }),
        add: (key, amount) => Effect.sync(() => void added.push(`${key}=${amount}`))
      }
      const budget = yield* make({ name: "s", perWindow: { costUsd: 1, window: "1 minute" } }).pipe(
        Effect.provideService(Budget.BudgetStore, store)
      )
      yield* node({ costUsd: 0.25 }).call.pipe(withBudget(budget))
      expect(added).toEqual(["s:costUsd=0.25"])
    }))

  it.effect("a custom store's window spend refuses, with its time until the window resets", () =>
    Effect.gen(function*() {
      const store: Budget.BudgetStore = {
        takeCall: () => Effect.succeed({ taken: true }),
        spent: (key) => Effect.succeed({ spent: key.endsWith(":costUsd") ? 2 : 0, resetAfterMillis: 1234 }),
        add: () => Effect.void
      }
      const budget = yield* make({ name: "s", perWindow: { tokens: 10, costUsd: 1, window: "1 minute" }, store })
      const n = node()
      const error = yield* Effect.flip(n.call.pipe(withBudget(budget)))
      expect(error).toMatchObject({ scope: "window", resource: "costUsd", spent: 2, limit: 1, retryAfterMillis: 1234 })
      expect(n.runs()).toBe(0)
    }))

  it.effect("a failing store fails open: the call runs", () =>
    Effect.gen(function*() {
      const broken = Effect.fail(new Budget.BudgetStoreError({ message: "database down" }))
      const store: Budget.BudgetStore = { takeCall: () => broken, spent: () => broken, add: () => broken }
      const budget = yield* make({ name: "s", perWindow: { calls: 1, tokens: 1, window: "1 minute" }, store })
      const n = node({ tokens: 5 })
      yield* n.call.pipe(withBudget(budget))
      yield* n.call.pipe(withBudget(budget))
      expect(n.runs()).toBe(2)
    }))
})

describe("Budget options", () => {
  const bad = (options: Budget.BudgetOptions) => Effect.flip(make(options))

  it.effect("negative limits are a ParseError naming the field", () =>
    Effect.gen(function*() {
      const error = yield* bad({ name: "b", perRun: { tokens: -1, costUsd: 1 } })
      expect(error._tag).toBe("ParseError")
      expect(error.message).toContain(`["perRun"]`)
      expect(error.message).toContain(`["tokens"]`)
      expect(error.message).not.toContain(`["costUsd"]`)
      const cost = yield* bad({ name: "b", perWindow: { costUsd: -0.01, window: "1 minute" } })
      expect(cost.message).toContain(`["costUsd"]`)
      expect((yield* bad({ name: "b", perRun: { calls: 1.5 } })).message).toContain(`["calls"]`)
      expect((yield* bad({ name: "b", perRun: { tokens: NaN } })).message).toContain(`["tokens"]`)
    }))

  it.effect("zero, negative and NaN windows are a ParseError naming the window", () =>
    Effect.gen(function*() {
      for (const window of [0, -1000, NaN, "0 seconds", "soon"]) {
        const error = yield* bad({ name: "b", perWindow: { calls: 1, window: window as any } })
        expect(error._tag).toBe("ParseError")
        expect(error.message).toContain(`["perWindow"]`)
        expect(error.message).toContain(`["window"]`)
      }
    }))

  it.effect("an unknown option and an empty name are named", () =>
    Effect.gen(function*() {
      expect((yield* bad({ name: "b", perRun: { cost: 1 } as any })).message).toContain("cost")
      expect((yield* bad({ name: "" })).message).toContain("name")
    }))
})

describe("Budget.charge", () => {
  it.effect("outside any withBudget it does nothing", () =>
    Effect.gen(function*() {
      const { layer, usage } = recordingLedger()
      const budget = yield* Budget.make({ name: "c", perRun: { tokens: 10 } }).pipe(Effect.provide(layer))
      yield* Budget.charge({ tokens: 1_000 })
      expect(usage).toEqual([])
      expect((yield* budget.spent).run.tokens).toBe(0)
      yield* Effect.void.pipe(withBudget(budget))
    }))

  it.effect("charges the innermost enclosing withBudget only", () =>
    Effect.gen(function*() {
      const outer = yield* make({ name: "outer", perRun: { tokens: 100 } })
      const inner = yield* make({ name: "inner", perRun: { tokens: 100 } })
      yield* Budget.charge({ tokens: 5 }).pipe(withBudget(inner), withBudget(outer))
      expect((yield* outer.spent).run.tokens).toBe(0)
      expect((yield* inner.spent).run.tokens).toBe(5)
    }))

  it.effect("each charge is recorded in the ledger with node, run and model", () =>
    Effect.gen(function*() {
      const { layer, usage } = recordingLedger()
      const budget = yield* Budget.make({ name: "research-budget" }).pipe(Effect.provide(layer))
      yield* TestClock.adjust("5 seconds")
      yield* Budget.charge({ tokensIn: 120, tokensOut: 30, costUsd: 0.002, model: "gpt-4o" }).pipe(
        withBudget(budget, { node: "researcher" }),
        CascadeGuard.withRun("thread-7")
      )
      yield* Budget.charge({ tokens: 50 }).pipe(withBudget(budget))
      expect(usage.map((u) => ({ ...u }))).toEqual([
        {
          node: "researcher",
          budget: "research-budget",
          runId: "thread-7",
          model: "gpt-4o",
          tokensIn: 120,
          tokensOut: 30,
          costUsd: 0.002,
          createdAt: new Date(5000)
        },
        {
          node: "research-budget",
          budget: "research-budget",
          runId: null,
          model: null,
          tokensIn: 50,
          tokensOut: 0,
          costUsd: 0,
          createdAt: new Date(5000)
        }
      ])
    }))

  it.effect("after a withBudget ends (success or failure) charges go back to the enclosing one, or nowhere", () =>
    Effect.gen(function*() {
      const outer = yield* make({ name: "outer", perRun: { tokens: 100 } })
      const inner = yield* make({ name: "inner", perRun: { tokens: 100 } })
      yield* Effect.gen(function*() {
        yield* Budget.charge({ tokens: 1 }).pipe(withBudget(inner))
        yield* Effect.either(Effect.fail("boom").pipe(withBudget(inner)))
        yield* Budget.charge({ tokens: 2 })
      }).pipe(withBudget(outer))
      yield* Effect.either(Effect.fail("boom").pipe(withBudget(outer)))
      yield* Budget.charge({ tokens: 4 })
      expect((yield* outer.spent).run.tokens).toBe(2)
      expect((yield* inner.spent).run.tokens).toBe(1)
    }))

  it.effect("fibers forked inside a call charge its budget; concurrent calls charge their own", () =>
    Effect.gen(function*() {
      const a = yield* make({ name: "a", perRun: { tokens: 100 } })
      const b = yield* make({ name: "b", perRun: { tokens: 100 } })
      const work = (n: number) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(Effect.zipRight(Effect.sleep("1 second"), Budget.charge({ tokens: n })))
          yield* Fiber.join(fiber)
        })
      const both = Effect.all([work(3).pipe(withBudget(a)), work(5).pipe(withBudget(b))], { concurrency: 2 })
      const fiber = yield* Effect.fork(both)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect((yield* a.spent).run.tokens).toBe(3)
      expect((yield* b.spent).run.tokens).toBe(5)
    }))

  it.effect("a node run under a breaker's call timeout (a child fiber) charges the budget", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "t", callTimeout: "10 seconds" })
      const budget = yield* make({ name: "t", perRun: { tokens: 100 } })
      const fiber = yield* Effect.fork(
        Effect.zipRight(Effect.sleep("1 second"), Budget.charge({ tokens: 7 })).pipe(
          withBreaker(breaker),
          withBudget(budget)
        )
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect((yield* budget.spent).run.tokens).toBe(7)
    }).pipe(Effect.provide(Ledger.layerNoop)))

  it.effect("the spend shows per node and per run in ledger.usage", () =>
    Effect.gen(function*() {
      const budget = yield* Budget.make({ name: "spend" })
      const call = (node: string, run: string, costUsd: number) =>
        Budget.charge({ tokensIn: 100, tokensOut: 10, costUsd }).pipe(
          withBudget(budget, { node }),
          CascadeGuard.withRun(run)
        )
      yield* call("researcher", "t1", 0.5)
      yield* call("researcher", "t2", 0.25)
      yield* call("writer", "t1", 0.125)
      const ledger = yield* Ledger.Ledger
      const byNode = yield* ledger.usage({ by: "node" })
      expect(byNode.map((u) => [u.key, u.calls, u.tokensIn, u.costUsd])).toEqual([
        ["researcher", 2, 200, 0.75],
        ["writer", 1, 100, 0.125]
      ])
      const byRun = yield* ledger.usage({ by: "run" })
      expect(byRun.map((u) => [u.key, u.costUsd])).toEqual([["t1", 0.625], ["t2", 0.25]])
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("negative or non-finite amounts count as nothing", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "c", perRun: { tokens: 10, costUsd: 1 } })
      yield* Budget.charge({ tokens: -5, costUsd: NaN }).pipe(withBudget(budget))
      expect((yield* budget.spent).run).toEqual({ calls: 1, tokens: 0, costUsd: 0 })
    }))
})

describe("Budget with fallbacks and breakers", () => {
  it.effect("Fallback.degrade({ only: [\"BudgetExceededError\"] }) turns a refusal into the cheaper answer", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "d", perRun: { costUsd: 0.01 } })
      const expensive = node({ costUsd: 0.02 })
      const answer = (q: string) =>
        expensive.call.pipe(
          Effect.map((a) => `${a} to ${q}`),
          withBudget(budget),
          Fallback.degrade(() => Effect.succeed(`cheap answer to ${q}`), { only: ["BudgetExceededError"] })
        )
      expect(yield* answer("q1")).toBe("answer to q1")
      const second: Effect.Effect<string, never> = answer("q2")
      expect(yield* second).toBe("cheap answer to q2")
      expect(expensive.runs()).toBe(1)
    }))

  it.effect("with withBudget outside withBreaker, refusals never reach the breaker", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "b", failureThreshold: 1 })
      const budget = yield* make({ name: "o", perRun: { calls: 0 } })
      yield* Effect.either(Effect.void.pipe(withBreaker(breaker), withBudget(budget)))
      expect(yield* breaker.state).toBe("CLOSED")
    }).pipe(Effect.provide(Ledger.layerNoop)))

  // the breaker's default `isFailure` skips `notFailureTags` (src/internal/notFailure.ts)
  it.effect("with withBudget inside withBreaker, a refusal is not counted as a failure", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "b", failureThreshold: 1 })
      const budget = yield* make({ name: "i", perRun: { calls: 0 } })
      const error = yield* Effect.flip(Effect.void.pipe(withBudget(budget), withBreaker(breaker)))
      expect(error._tag).toBe("BudgetExceededError")
      expect(yield* breaker.state).toBe("CLOSED")
      expect((yield* breaker.metrics).failures).toBe(0)
    }).pipe(Effect.provide(Ledger.layerNoop)))

  it.effect("a refused call never runs: its exit says BudgetExceededError, not the node's error", () =>
    Effect.gen(function*() {
      const budget = yield* make({ name: "x", perRun: { calls: 0 } })
      const exit = yield* Effect.exit(Effect.die("the node ran").pipe(withBudget(budget)))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag).toBe("BudgetExceededError")
    }))
})
