import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, TestClock, TestContext } from "effect"
import * as fc from "fast-check"
import { CircuitBreaker, Ledger, withBreaker } from "agentarmour"

type Command =
  | { readonly _tag: "succeed" }
  | { readonly _tag: "fail" }
  | { readonly _tag: "timeout" }
  | { readonly _tag: "advance"; readonly millis: number }
  | { readonly _tag: "reset" }

const THRESHOLD = 3
const WINDOW = 10_000
const RECOVERY = 5_000
const TIMEOUT = 1_000

/** the reference model: the state machine of DESIGN.md, written as plainly as possible */
class Model {
  state: "CLOSED" | "OPEN" | "HALF_OPEN" = "CLOSED"
  now = 0
  failures: Array<number> = []
  retryAt = 0

  private lazyHalfOpen() {
    if (this.state === "OPEN" && this.now >= this.retryAt) this.state = "HALF_OPEN"
  }
  /** returns "ok" | "failed" | "rejected" */
  call(outcome: "succeed" | "fail" | "timeout"): string {
    this.lazyHalfOpen()
    if (this.state === "OPEN") {
      // the harness still lets the clock run for the length of a timeout
      if (outcome === "timeout") this.now += TIMEOUT
      return "rejected"
    }
    if (outcome === "timeout") this.now += TIMEOUT
    const failed = outcome !== "succeed"
    if (this.state === "HALF_OPEN") {
      if (failed) {
        this.state = "OPEN"
        this.retryAt = this.now + RECOVERY
      } else {
        this.state = "CLOSED"
        this.failures = []
      }
      return failed ? "failed" : "ok"
    }
    if (failed) {
      this.failures.push(this.now)
      const inWindow = this.failures.filter((t) => this.now - t < WINDOW).length
      if (inWindow >= THRESHOLD) {
        this.state = "OPEN"
        this.retryAt = this.now + RECOVERY
      }
    }
    return failed ? "failed" : "ok"
  }
  advance(millis: number) {
    this.now += millis
  }
  reset() {
    this.state = "CLOSED"
    this.failures = []
  }
  observed() {
    this.lazyHalfOpen()
    return this.state
  }
}

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ _tag: "succeed" } as const) },
  { weight: 4, arbitrary: fc.constant({ _tag: "fail" } as const) },
  { weight: 1, arbitrary: fc.constant({ _tag: "timeout" } as const) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 12_000 }).map((millis) => ({ _tag: "advance", millis }) as const) },
  { weight: 1, arbitrary: fc.constant({ _tag: "reset" } as const) }
)

const replay = (commands: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const breaker = yield* CircuitBreaker.make({
      name: "model",
      failureThreshold: THRESHOLD,
      windowSize: WINDOW,
      recoveryTimeout: RECOVERY,
      callTimeout: TIMEOUT
    })
    const model = new Model()
    for (const [i, c] of commands.entries()) {
      const where = `after command ${i} (${JSON.stringify(c)}) of ${JSON.stringify(commands)}`
      switch (c._tag) {
        case "advance":
          model.advance(c.millis)
          yield* TestClock.adjust(c.millis)
          break
        case "reset":
          model.reset()
          yield* breaker.reset
          break
        default: {
          const expected = model.call(c._tag)
          const node = c._tag === "succeed"
            ? Effect.succeed("ok")
            : c._tag === "fail"
            ? Effect.fail("boom")
            : Effect.never
          const fiber = yield* Effect.fork(Effect.either(node.pipe(withBreaker(breaker))))
          if (c._tag === "timeout") yield* TestClock.adjust(TIMEOUT)
          const result = yield* Fiber.join(fiber)
          const actual = Either.isRight(result)
            ? "ok"
            : typeof result.left === "object" && result.left._tag === "CircuitOpenError"
            ? "rejected"
            : "failed"
          if (actual !== expected) throw new Error(`call returned ${actual}, model says ${expected} ${where}`)
        }
      }
      const state = yield* breaker.state
      if (state !== model.observed()) throw new Error(`breaker is ${state}, model says ${model.observed()} ${where}`)
    }
  }).pipe(Effect.provide(Ledger.layerMemory), Effect.provide(TestContext.TestContext))

describe("CircuitBreaker against a reference model", () => {
  it("agrees with the model on 1,000 random histories of calls, timeouts, clock moves and resets", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), (commands) =>
        Effect.runPromise(replay(commands)).then(() => true)),
      { numRuns: 1000 }
    )
  }, 120_000)

  it("the model check can fail: a breaker with another threshold disagrees with the model", async () => {
    const wrong = Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "m", failureThreshold: THRESHOLD + 1, windowSize: WINDOW })
      const model = new Model()
      for (let i = 0; i < THRESHOLD; i++) {
        model.call("fail")
        yield* Effect.either(Effect.fail("x").pipe(withBreaker(breaker)))
      }
      return [yield* breaker.state, model.observed()] as const
    }).pipe(Effect.provide(Ledger.layerMemory), Effect.provide(TestContext.TestContext))
    const [actual, expected] = await Effect.runPromise(wrong)
    expect(actual).not.toBe(expected)
  })
})
