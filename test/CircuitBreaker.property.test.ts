import { describe, expect, it } from "@effect/vitest"
import { CircuitBreaker, Ledger, withBreaker } from "agentarmour"
import { Effect, Either, Fiber, TestClock } from "effect"
import * as fc from "effect/FastCheck"

import * as Machine from "../src/internal/breaker/machine.js"
import * as timeWindow from "../src/internal/breaker/timeWindow.js"

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
const history = fc.array(command, { minLength: 1, maxLength: 40 })

const machine: Machine.Machine = {
  rules: [timeWindow.make(THRESHOLD, WINDOW)],
  recoveryMillis: RECOVERY,
  backoffMillis: () => 0,
  halfOpenMaxCalls: 1,
  halfOpenSuccesses: 1,
  halfOpenTimeoutMillis: TIMEOUT
}

/** replays a history on the pure machine, as the Effect shell drives it; throws on the first disagreement */
const replayMachine = (commands: ReadonlyArray<Command>, m: Machine.Machine = machine): void => {
  let s = Machine.initial(m)
  let now = 0
  const model = new Model()
  for (const [i, c] of commands.entries()) {
    const where = `after command ${i} (${JSON.stringify(c)}) of ${JSON.stringify(commands)}`
    switch (c._tag) {
      case "advance":
        model.advance(c.millis)
        now += c.millis
        break
      case "reset":
        model.reset()
        s = Machine.step(m, s, { _tag: "Reset" }, now)[0]
        break
      default: {
        const expected = model.call(c._tag)
        const [admission, next] = Machine.admit(m, s, now)
        s = next
        if (c._tag === "timeout") now += TIMEOUT
        let actual: string
        if (admission._tag === "Closed" || admission._tag === "Probe") {
          const event: Machine.Event = c._tag === "succeed"
            ? { _tag: "Success", permit: admission, slow: false }
            : { _tag: "Failure", permit: admission, slow: false, detail: c._tag }
          s = Machine.step(m, s, event, now)[0]
          actual = c._tag === "succeed" ? "ok" : "failed"
        } else {
          actual = "rejected"
        }
        if (actual !== expected) throw new Error(`call returned ${actual}, model says ${expected} ${where}`)
      }
    }
    s = Machine.step(m, s, { _tag: "Tick" }, now)[0]
    if (s.status !== model.observed()) {
      throw new Error(`machine is ${s.status}, model says ${model.observed()} ${where}`)
    }
  }
}

/** replays a history on a real breaker under the TestClock */
const replayBreaker = (commands: ReadonlyArray<Command>) =>
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
  }).pipe(Effect.provide(Ledger.layerMemory))

describe("the breaker state machine against a reference model", () => {
  it.prop("the pure machine agrees with the model on random histories", [history], ([commands]) => {
    replayMachine(commands)
  }, { fastCheck: { numRuns: 2000 } })

  it.effect.prop(
    "a real breaker (the Effect shell, TestClock) agrees with the model on random histories",
    [history],
    ([commands]) => replayBreaker(commands),
    { timeout: 120_000, fastCheck: { numRuns: 200 } }
  )

  it("the model check can fail: a machine with another threshold disagrees with the model", () => {
    const wrong: Machine.Machine = { ...machine, rules: [timeWindow.make(THRESHOLD + 1, WINDOW)] }
    const fails: ReadonlyArray<Command> = Array.from({ length: THRESHOLD }, () => ({ _tag: "fail" }) as const)
    expect(() => replayMachine(fails, wrong)).toThrow(/model says OPEN/)
    expect(() => replayMachine(fails)).not.toThrow()
  })
})
