import { describe, expect, it } from "@effect/vitest"
import {
  BreakerConfig,
  BreakerRegistry,
  CallTimeoutError,
  CascadeGuard,
  CircuitBreaker,
  CircuitOpenError,
  Ledger,
  withBreaker
} from "agentarmour"
import {
  Cause,
  Chunk,
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Option,
  Queue,
  Schedule,
  Stream,
  TestClock
} from "effect"

import { attempt, Boom, fail, ok, run } from "./support/breaker.js"

describe("CircuitBreaker state machine", () => {
  it.effect("a new breaker starts CLOSED", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t" })
      expect(yield* b.state).toBe("CLOSED")
    })))

  it.effect("trips OPEN when failures reach the threshold within the window", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 3 })
      for (let i = 0; i < 3; i++) yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("OPEN")
    })))

  it.effect("stays CLOSED below the threshold, and successes do not erase failures", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 3 })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* ok.pipe(withBreaker(b))
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("CLOSED")
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("OPEN")
    })))

  it.effect("failures older than the window are forgotten", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 2, windowSize: "10 seconds" })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("11 seconds")
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("CLOSED")
      expect((yield* b.metrics).failureCount).toBe(1)
      yield* TestClock.adjust("5 seconds")
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("OPEN")
    })))

  it.effect("an OPEN breaker rejects with CircuitOpenError without running the node", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, recoveryTimeout: "30 seconds" })
      yield* attempt(fail.pipe(withBreaker(b)))
      let calls = 0
      const result = yield* attempt(Effect.sync(() => ++calls).pipe(withBreaker(b)))
      expect(calls).toBe(0)
      expect(Either.getLeft(result)).toEqual(
        Option.some(new CircuitOpenError({ breaker: "t", retryAfterMillis: 30_000 }))
      )
      expect((yield* b.metrics).rejections).toBe(1)
    })))

  it.effect("becomes HALF_OPEN once the recovery timeout has passed", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, recoveryTimeout: "30 seconds" })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("29 seconds")
      expect(yield* b.state).toBe("OPEN")
      yield* TestClock.adjust("1 second")
      expect(yield* b.state).toBe("HALF_OPEN")
    })))

  it.effect("a successful probe closes the breaker and clears the window", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 2, recoveryTimeout: "1 second" })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("2 seconds")
      expect(yield* ok.pipe(withBreaker(b))).toBe("ok")
      expect(yield* b.state).toBe("CLOSED")
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("CLOSED")
    })))

  it.effect("a failed probe reopens the breaker for another recovery timeout", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, recoveryTimeout: "1 second" })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("1 second")
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("OPEN")
      yield* TestClock.adjust("999 millis")
      expect(yield* b.state).toBe("OPEN")
    })))

  it.effect("reset closes an OPEN breaker and forceOpen isolates a node until reset", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, recoveryTimeout: "1 second" })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* b.reset
      expect(yield* b.state).toBe("CLOSED")
      expect(yield* ok.pipe(withBreaker(b))).toBe("ok")
      yield* b.forceOpen
      yield* TestClock.adjust("1 hour")
      expect(yield* b.state).toBe("OPEN")
      expect(Either.isLeft(yield* attempt(ok.pipe(withBreaker(b))))).toBe(true)
      yield* b.reset
      expect(yield* ok.pipe(withBreaker(b))).toBe("ok")
    })))

  it.effect("a full cycle CLOSED -> OPEN -> HALF_OPEN -> CLOSED is written to the ledger in order", () =>
    run(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const b = yield* CircuitBreaker.make({ name: "cycle", failureThreshold: 1, recoveryTimeout: "5 seconds" })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("5 seconds")
      yield* ok.pipe(withBreaker(b))
      const ts = yield* ledger.transitions({ breaker: "cycle" })
      expect(ts.map((t) => `${t.fromState}->${t.toState}`).reverse()).toEqual([
        "CLOSED->OPEN",
        "OPEN->HALF_OPEN",
        "HALF_OPEN->CLOSED"
      ])
      const [f] = yield* ledger.failures({ breaker: "cycle" })
      expect(f).toMatchObject({ category: "exception", errorType: "Boom", errorMessage: "agent exploded" })
    })))
})

describe("withBreaker", () => {
  it.effect("passes values and the node's own typed errors through unchanged", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t" })
      expect(yield* Effect.succeed(42).pipe(withBreaker(b))).toBe(42)
      const e = yield* Effect.flip(fail.pipe(withBreaker(b)))
      expect(e).toBeInstanceOf(Boom)
    })))

  it.effect("a call overrunning callTimeout is interrupted and fails with CallTimeoutError", () =>
    run(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const b = yield* CircuitBreaker.make({ name: "slow", callTimeout: "1 second", failureThreshold: 1 })
      const interrupted = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Effect.never.pipe(
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)),
          withBreaker(b),
          Effect.flip
        )
      )
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      expect(error).toEqual(new CallTimeoutError({ breaker: "slow", timeoutMillis: 1000 }))
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
      expect(yield* b.state).toBe("OPEN")
      const [f] = yield* ledger.failures()
      expect(f!.category).toBe("timeout")
      expect(f!.errorMessage).toContain("callTimeout of 1000 ms")
    })))

  it.effect("a node under callTimeout sees the caller's services and FiberRefs (the guard's run, the clock)", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", callTimeout: "1 second" })
      const runId = yield* CascadeGuard.currentRun.pipe(withBreaker(b), CascadeGuard.withRun("thread-7"))
      expect(runId).toBe("thread-7")
      const fiber = yield* Effect.fork(
        Effect.sleep("500 millis").pipe(
          Effect.zipRight(CascadeGuard.currentRun),
          withBreaker(b),
          CascadeGuard.withRun("thread-8")
        )
      )
      yield* TestClock.adjust("500 millis")
      expect(yield* Fiber.join(fiber)).toBe("thread-8")
    })))

  it.effect("a call finishing before callTimeout is not affected by it", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", callTimeout: "1 second" })
      const fiber = yield* Effect.fork(Effect.sleep("999 millis").pipe(Effect.as("done"), withBreaker(b)))
      yield* TestClock.adjust("999 millis")
      expect(yield* Fiber.join(fiber)).toBe("done")
      yield* TestClock.adjust("10 seconds")
      expect((yield* b.metrics).failures).toBe(0)
    })))

  it.effect("defects are counted and re-raised as defects", () =>
    run(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1 })
      const exit = yield* Effect.exit(Effect.die(new Error("kaboom")).pipe(withBreaker(b)))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(yield* b.state).toBe("OPEN")
      const [f] = yield* ledger.failures()
      expect(f).toMatchObject({ category: "defect", errorType: "Error", errorMessage: "kaboom" })
      expect(f!.traceback).toContain("kaboom")
    })))

  it.effect("interrupting the caller is never counted as a failure", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, callTimeout: null })
      const fiber = yield* Effect.fork(Effect.never.pipe(withBreaker(b)))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      expect(yield* b.state).toBe("CLOSED")
      expect((yield* b.metrics).failures).toBe(0)
    })))

  it.effect("an interrupted HALF_OPEN probe gives its permit back and never leaves the breaker stuck", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, recoveryTimeout: "1 second" })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("1 second")
      const probe = yield* Effect.fork(Effect.never.pipe(withBreaker(b)))
      yield* Effect.yieldNow()
      expect(Either.isLeft(yield* attempt(ok.pipe(withBreaker(b))))).toBe(true) // the only permit is taken
      yield* Fiber.interrupt(probe)
      expect(yield* ok.pipe(withBreaker(b))).toBe("ok")
      expect(yield* b.state).toBe("CLOSED")
    })))

  it.effect("halfOpenMaxCalls limits concurrent probes", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 1,
        recoveryTimeout: "1 second",
        halfOpenMaxCalls: 2,
        callTimeout: null
      })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("1 second")
      const gate = yield* Deferred.make<void>()
      const probes = yield* Effect.forkAll([1, 2].map(() => Deferred.await(gate).pipe(withBreaker(b))))
      yield* Effect.yieldNow()
      const third = yield* attempt(ok.pipe(withBreaker(b)))
      expect(Either.getLeft(third).pipe(Option.map((e) => e._tag))).toEqual(Option.some("CircuitOpenError"))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(probes)
      expect(yield* b.state).toBe("CLOSED")
    })))

  it.scoped("20 fibers failing at once produce exactly one CLOSED -> OPEN transition", () =>
    run(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 3, callTimeout: "1 second" })
      const changes = yield* b.subscribe
      yield* Effect.forEach(
        Array.from(
          { length: 20 },
          () => Effect.sleep("10 millis").pipe(Effect.zipRight(fail), withBreaker(b), Effect.either)
        ),
        (e) => e,
        { concurrency: "unbounded" }
      ).pipe(Effect.fork, Effect.tap(() => TestClock.adjust("10 millis")), Effect.flatMap(Fiber.join))
      const seen = yield* Queue.takeAll(changes)
      expect(Chunk.toReadonlyArray(seen).map((t) => `${t.fromState}->${t.toState}`)).toEqual(["CLOSED->OPEN"])
      expect((yield* ledger.transitions()).length).toBe(1)
    })))

  it.scoped("changes announces the breaker opening (the on_open notification)", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1 })
      const opened = yield* b.subscribe
      yield* attempt(fail.pipe(withBreaker(b)))
      const t = yield* Queue.take(opened)
      expect(t).toMatchObject({ breakerName: "t", fromState: "CLOSED", toState: "OPEN" })
      expect(t.reason).toContain("agent exploded")
    })))

  it.effect("the changes stream delivers every transition of a full cycle, in order", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, recoveryTimeout: "1 second" })
      const seen = yield* b.changes.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      yield* Effect.repeatN(Effect.yieldNow(), 10) // let the stream subscribe
      yield* Effect.either(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("1 second")
      yield* ok.pipe(withBreaker(b))
      const transitions = Chunk.toReadonlyArray(yield* Fiber.join(seen))
      expect(transitions.map((t) => `${t.fromState}->${t.toState}`)).toEqual([
        "CLOSED->OPEN",
        "OPEN->HALF_OPEN",
        "HALF_OPEN->CLOSED"
      ])
    })))

  it.effect("a disabled breaker passes the original error through and never opens", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1, enabled: false })
      for (let i = 0; i < 5; i++) expect(yield* Effect.flip(fail.pipe(withBreaker(b)))).toBeInstanceOf(Boom)
      expect(yield* b.state).toBe("CLOSED")
    })))

  it.effect("isFailure decides which failures count", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 1,
        isFailure: (cause) => !Cause.pretty(cause).includes("not my fault")
      })
      yield* attempt(Effect.fail(new Error("not my fault")).pipe(withBreaker(b)))
      expect(yield* b.state).toBe("CLOSED")
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("OPEN")
    })))

  it.effect("LangGraph control flow (a GraphInterrupt-like bubble-up) passes through uncounted", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1 })
      class GraphInterrupt extends Error {
        override name = "GraphInterrupt"
        get is_bubble_up() {
          return true
        }
      }
      const exit = yield* Effect.exit(Effect.die(new GraphInterrupt()).pipe(withBreaker(b)))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* b.state).toBe("CLOSED")
      expect((yield* b.metrics).failures).toBe(0)
    })))

  it.effect("trips on the failure rate once minimumCalls calls are in the window", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 100,
        failureRateThreshold: 0.5,
        minimumCalls: 4
      })
      yield* ok.pipe(withBreaker(b))
      yield* ok.pipe(withBreaker(b))
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("CLOSED")
      yield* attempt(fail.pipe(withBreaker(b)))
      expect(yield* b.state).toBe("OPEN")
    })))

  it.effect("trips on the slow-call rate and records slow calls", () =>
    run(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const b = yield* CircuitBreaker.make({
        name: "t",
        slowCallDuration: "1 second",
        slowCallRateThreshold: 0.5,
        minimumCalls: 2
      })
      const slowCall = Effect.sleep("2 seconds").pipe(withBreaker(b), Effect.fork)
      yield* ok.pipe(withBreaker(b))
      const f = yield* slowCall
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(f)
      expect(yield* b.state).toBe("OPEN")
      const [rec] = yield* ledger.failures()
      expect(rec!.category).toBe("slow")
    })))

  it.effect("recoveryBackoff grows the recovery timeout after each failed probe", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 1,
        recoveryTimeout: "1 second",
        recoveryBackoff: Schedule.exponential("1 second")
      })
      yield* attempt(fail.pipe(withBreaker(b)))
      yield* TestClock.adjust("1 second")
      yield* attempt(fail.pipe(withBreaker(b))) // probe 1 fails: 1 s + 1 s
      yield* TestClock.adjust("1999 millis")
      expect(yield* b.state).toBe("OPEN")
      yield* TestClock.adjust("1 millis")
      yield* attempt(fail.pipe(withBreaker(b))) // probe 2 fails: 1 s + 2 s
      yield* TestClock.adjust("2999 millis")
      expect(yield* b.state).toBe("OPEN")
      yield* TestClock.adjust("1 millis")
      expect(yield* b.state).toBe("HALF_OPEN")
    })))
})

describe("configuration", () => {
  it.effect("defaults follow the Python original", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t" })
      expect(b.config).toBeInstanceOf(BreakerConfig)
      expect(b.config).toMatchObject({ failureThreshold: 3, halfOpenMaxCalls: 1, enabled: true })
    })))

  it.effect("invalid options fail make with a ParseError that names each bad field", () =>
    run(Effect.gen(function*() {
      const error = yield* Effect.flip(
        CircuitBreaker.make({ name: "t", failureThreshold: 0, recoveryTimeout: "soon" as any, failureRateThreshold: 2 })
      )
      expect(error._tag).toBe("ParseError")
      expect(error.message).toContain("failureThreshold")
      expect(error.message).toContain("recoveryTimeout")
      expect(error.message).toContain("failureRateThreshold")
      const unknown = yield* Effect.flip(CircuitBreaker.make({ name: "t", failureTreshold: 2 } as any))
      expect(unknown.message).toContain("failureTreshold")
    })))
})

describe("layers and the registry", () => {
  class Research extends Context.Tag("Research")<Research, CircuitBreaker.CircuitBreaker>() {}

  it.effect("withBreaker accepts a Tag provided by CircuitBreaker.layer", () =>
    Effect.gen(function*() {
      const result = yield* Effect.succeed(1).pipe(withBreaker(Research))
      expect(result).toBe(1)
      const b = yield* Research
      expect(b.name).toBe("research")
    }).pipe(
      Effect.provide(CircuitBreaker.layer(Research, { name: "research" }).pipe(Layer.provide(Ledger.layerMemory)))
    ))

  it.effect("withBreaker accepts a registry name and the registry creates the breaker once", () =>
    Effect.gen(function*() {
      yield* attempt(fail.pipe(withBreaker("extract")))
      yield* attempt(fail.pipe(withBreaker("extract")))
      const registry = yield* BreakerRegistry.BreakerRegistry
      const snapshot = yield* registry.snapshot
      expect(snapshot["extract"]).toMatchObject({ state: "OPEN", failures: 2 })
      expect((yield* registry.all).size).toBe(1)
    }).pipe(Effect.provide(BreakerRegistry.layer({ failureThreshold: 2 }).pipe(Layer.provide(Ledger.layerMemory)))))
})

describe("0.1 correctness holes", () => {
  const trip = (b: CircuitBreaker.CircuitBreaker) => attempt(fail.pipe(withBreaker(b)))

  it.effect("a late success of a probe from an earlier HALF_OPEN episode does not close the current one", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 1,
        recoveryTimeout: "1 second",
        halfOpenMaxCalls: 2,
        callTimeout: null
      })
      yield* trip(b)
      yield* TestClock.adjust("1 second")
      const gate = yield* Deferred.make<void>()
      const stale = yield* Effect.fork(Deferred.await(gate).pipe(withBreaker(b)))
      yield* Effect.yieldNow()
      yield* trip(b) // the other probe of episode 1 fails: OPEN again
      yield* TestClock.adjust("1 second")
      expect(yield* b.state).toBe("HALF_OPEN") // episode 2
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(stale)
      expect(yield* b.state).toBe("HALF_OPEN")
    })))

  it.effect("an interrupted probe from an earlier episode cannot free a permit of the current one", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 1,
        recoveryTimeout: "1 second",
        halfOpenMaxCalls: 2,
        callTimeout: null
      })
      yield* trip(b)
      yield* TestClock.adjust("1 second")
      const stale = yield* Effect.fork(Effect.never.pipe(withBreaker(b)))
      yield* Effect.yieldNow()
      yield* trip(b)
      yield* TestClock.adjust("1 second")
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(Deferred.await(gate).pipe(withBreaker(b)))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(stale)
      const second = yield* Effect.fork(Deferred.await(gate).pipe(withBreaker(b)))
      yield* Effect.yieldNow()
      const third = yield* attempt(ok.pipe(withBreaker(b)))
      expect(Either.getLeft(third).pipe(Option.map((e) => e._tag))).toEqual(Option.some("CircuitOpenError"))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
    })))

  it.effect("negative, NaN and infinite durations and a windowSize of 0 are ParseErrors naming the field", () =>
    run(Effect.gen(function*() {
      const cases: ReadonlyArray<[string, unknown]> = [
        ["callTimeout", -1],
        ["windowSize", -5],
        ["windowSize", NaN],
        ["windowSize", 0],
        ["windowSize", "0 seconds"],
        ["recoveryTimeout", -1],
        ["recoveryTimeout", "-5 seconds"],
        ["recoveryTimeout", Infinity],
        ["slowCallDuration", [-1, 0]]
      ]
      for (const [field, value] of cases) {
        const error = yield* Effect.flip(CircuitBreaker.make({ name: "t", [field]: value } as any))
        expect(error._tag, `${field}: ${String(value)}`).toBe("ParseError")
        expect(error.message, `${field}: ${String(value)}`).toContain(field)
      }
      const zeroRecovery = yield* CircuitBreaker.make({ name: "t", recoveryTimeout: 0 })
      expect(zeroRecovery.config.recoveryTimeout).toEqual(Duration.zero)
    })))

  it.effect("an error whose message getter throws is counted and reaches the caller unchanged", () =>
    run(Effect.gen(function*() {
      class Hostile {
        readonly _tag = "Hostile"
        get message(): string {
          throw new Error("no message for you")
        }
      }
      const hostile = new Hostile()
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1 })
      const error = yield* Effect.flip(Effect.fail(hostile).pipe(withBreaker(b)))
      expect(error).toBe(hostile)
      expect(yield* b.state).toBe("OPEN")
      expect((yield* b.metrics).failures).toBe(1)
    })))

  it.effect("with callTimeout null, a probe that never returns cannot hold HALF_OPEN past 60 seconds", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({
        name: "t",
        failureThreshold: 1,
        recoveryTimeout: "1 second",
        callTimeout: null
      })
      yield* trip(b)
      yield* TestClock.adjust("1 second")
      yield* Effect.fork(Effect.never.pipe(withBreaker(b)))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("59 seconds")
      expect(yield* b.state).toBe("HALF_OPEN")
      yield* TestClock.adjust("1 second")
      expect(yield* b.state).toBe("OPEN")
      yield* TestClock.adjust("1 second")
      expect(yield* ok.pipe(withBreaker(b))).toBe("ok")
      expect(yield* b.state).toBe("CLOSED")
    })))
})

describe("the call timeout's deadline list (docs/performance.md, suspending node rows)", () => {
  it.effect("calls started at different times each time out at their own deadline, one sleeper serving all", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", callTimeout: "1 second", failureThreshold: 100 })
      const first = yield* Effect.fork(Effect.either(Effect.never.pipe(withBreaker(b))))
      yield* TestClock.adjust("500 millis")
      const second = yield* Effect.fork(Effect.either(Effect.never.pipe(withBreaker(b))))
      const quick = yield* Effect.fork(Effect.sleep("100 millis").pipe(Effect.as("quick"), withBreaker(b)))
      yield* TestClock.adjust("100 millis")
      expect(yield* Fiber.join(quick)).toBe("quick")
      yield* TestClock.adjust("400 millis") // t = 1000
      expect(Either.getLeft(yield* Fiber.join(first)).pipe(Option.map((e) => e._tag))).toEqual(
        Option.some("CallTimeoutError")
      )
      expect(Option.isNone(yield* Fiber.poll(second))).toBe(true)
      yield* TestClock.adjust("500 millis") // t = 1500
      expect(Either.getLeft(yield* Fiber.join(second)).pipe(Option.map((e) => e._tag))).toEqual(
        Option.some("CallTimeoutError")
      )
      expect((yield* b.metrics).timeouts).toBe(2)
    })))

  it.effect("an interrupted call leaves the list; the calls behind it still time out at their deadlines", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", callTimeout: "1 second", failureThreshold: 100 })
      const head = yield* Effect.fork(Effect.either(Effect.never.pipe(withBreaker(b))))
      yield* TestClock.adjust("200 millis")
      const middle = yield* Effect.fork(Effect.either(Effect.never.pipe(withBreaker(b))))
      yield* TestClock.adjust("200 millis")
      const tail = yield* Effect.fork(Effect.either(Effect.never.pipe(withBreaker(b))))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(head)
      yield* Fiber.interrupt(middle)
      yield* TestClock.adjust("599 millis") // t = 999: nothing has expired
      expect(Option.isNone(yield* Fiber.poll(tail))).toBe(true)
      yield* TestClock.adjust("401 millis") // t = 1400: the tail's deadline
      expect(Either.getLeft(yield* Fiber.join(tail)).pipe(Option.map((e) => e._tag))).toEqual(
        Option.some("CallTimeoutError")
      )
      expect((yield* b.metrics).timeouts).toBe(1)
    })))

  it.effect("after an idle spell the timeout still fires (the sleeper restarts)", () =>
    run(Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", callTimeout: "30 seconds", failureThreshold: 100 })
      const early = yield* Effect.fork(Effect.sleep("10 millis").pipe(withBreaker(b)))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(early)
      yield* TestClock.adjust("1 hour")
      const late = yield* Effect.fork(Effect.either(Effect.never.pipe(withBreaker(b))))
      yield* TestClock.adjust("30 seconds")
      expect(Either.isLeft(yield* Fiber.join(late))).toBe(true)
    })))
})

describe("the registry 0.2", () => {
  it.effect("concurrent first uses of a name get one breaker; registry breakers keep the defaults", () =>
    Effect.gen(function*() {
      const registry = yield* BreakerRegistry.BreakerRegistry
      const got = yield* Effect.forEach(Array.from({ length: 50 }, () => registry.get("shared")), (e) => e, {
        concurrency: "unbounded"
      })
      expect(new Set(got).size).toBe(1)
      expect(got[0]!.config).toMatchObject({ name: "shared", failureThreshold: 2, halfOpenSuccesses: 2 })
      const custom = yield* registry.get("custom", { failureThreshold: 5 })
      expect(custom.config.failureThreshold).toBe(5)
      expect(custom.config.halfOpenSuccesses).toBe(2)
      expect((yield* registry.all).size).toBe(2)
    }).pipe(
      Effect.provide(
        BreakerRegistry.layer({ failureThreshold: 2, halfOpenSuccesses: 2 }).pipe(Layer.provide(Ledger.layerMemory))
      )
    ))

  it.effect("bad overrides for a new name are reported with the field", () =>
    Effect.gen(function*() {
      const registry = yield* BreakerRegistry.BreakerRegistry
      const exit = yield* Effect.exit(registry.get("bad", { windowSize: -1 }))
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause).includes("windowSize")).toBe(true)
    }).pipe(Effect.provide(BreakerRegistry.layer().pipe(Layer.provide(Ledger.layerMemory)))))
})
