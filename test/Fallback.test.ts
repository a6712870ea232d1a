import { describe, expect, it } from "@effect/vitest"
import type { CallTimeoutError } from "agentarmour"
import { CircuitBreaker, CircuitOpenError, EscalatedError, Fallback, Ledger, withBreaker } from "agentarmour"
import { Cause, Effect, Either, Fiber, Option, Schema, TestClock } from "effect"

class AgentError extends Schema.TaggedError<AgentError>()("AgentError", { message: Schema.String }) {}
class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {}) {}

const open = Effect.fail(new CircuitOpenError({ breaker: "research", retryAfterMillis: 100 }))
function researchAgentThatFails() {
  return Effect.fail(new AgentError({ message: "the model returned garbage" }))
}

describe("Fallback.cache", () => {
  it.effect("stores a success and serves it when the node later fails", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeCache<string>({ maxAge: "5 minutes" })
      expect(yield* Effect.succeed("fresh").pipe(Fallback.cache(store, { key: "q" }))).toBe("fresh")
      expect(yield* open.pipe(Fallback.cache(store, { key: "q" }))).toBe("fresh")
    }))

  it.effect("keeps the original failure when nothing is cached", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeCache<string>({ maxAge: "5 minutes" })
      const error = yield* Effect.flip(researchAgentThatFails().pipe(Fallback.cache(store, { key: "q" })))
      expect(error).toBeInstanceOf(AgentError)
    }))

  it.effect("maxAge works: a value older than maxAge is not served", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeCache<string>({ maxAge: "10 seconds" })
      yield* Effect.succeed("old").pipe(Fallback.cache(store, { key: "q" }))
      yield* TestClock.adjust("10 seconds")
      expect(yield* open.pipe(Fallback.cache(store, { key: "q" }))).toBe("old")
      yield* TestClock.adjust("1 millis")
      const result = yield* Effect.either(open.pipe(Fallback.cache(store, { key: "q" })))
      expect(Either.isLeft(result)).toBe(true)
    }))

  it.effect("capacity evicts the least recently used entry", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeCache<number>({ maxAge: "1 hour", capacity: 2 })
      yield* store.set("a", 1)
      yield* store.set("b", 2)
      yield* store.get("a") // a is now the most recently used
      yield* store.set("c", 3)
      expect(yield* store.size).toBe(2)
      expect(yield* store.get("b")).toEqual(Option.none())
      expect(yield* store.get("a")).toEqual(Option.some(1))
      expect(yield* store.get("c")).toEqual(Option.some(3))
    }))

  it.effect("with `only`, other failures pass through untouched", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeCache<string>({ maxAge: "1 hour" })
      yield* store.set("q", "cached")
      const error = yield* Effect.flip(
        researchAgentThatFails().pipe(Fallback.cache(store, { key: "q", only: ["CircuitOpenError"] }))
      )
      expect(error._tag).toBe("AgentError")
    }))
})

describe("Fallback.degrade", () => {
  it.effect("answers a failure with the backup agent and removes the handled errors from the type", () =>
    Effect.gen(function*() {
      const node: Effect.Effect<string, AgentError | CircuitOpenError> = researchAgentThatFails()
      const degraded = node.pipe(Fallback.degrade(() => Effect.succeed("from the cheap model")))
      const result: Effect.Effect<string, never> = degraded
      expect(yield* result).toBe("from the cheap model")
    }))

  it.effect("the backup's own typed errors are what remains", () =>
    Effect.gen(function*() {
      const degraded = researchAgentThatFails().pipe(Fallback.degrade(() => Effect.fail(new RateLimited())))
      const error: RateLimited = yield* Effect.flip(degraded)
      expect(error._tag).toBe("RateLimited")
    }))

  it.effect("`only` narrows what is handled, and the type keeps the rest", () =>
    Effect.gen(function*() {
      const node = Effect.fail(new AgentError({ message: "x" })) as Effect.Effect<
        string,
        AgentError | CircuitOpenError | CallTimeoutError
      >
      const narrowed = node.pipe(
        Fallback.degrade(() => Effect.succeed("b"), { only: ["CircuitOpenError", "CallTimeoutError"] })
      )
      const typed: Effect.Effect<string, AgentError> = narrowed
      // @ts-expect-error CircuitOpenError was handled, so it is no longer in the error channel
      const wrong: Effect.Effect<string, CircuitOpenError> = narrowed
      void wrong
      expect((yield* Effect.flip(typed))._tag).toBe("AgentError")
      const handled = yield* (open as Effect.Effect<string, CircuitOpenError>).pipe(
        Fallback.degrade(() => Effect.succeed("b"), { only: ["CircuitOpenError"] })
      )
      expect(handled).toBe("b")
    }))

  it.effect("the failure context carries the breaker and a traceback naming the failing function", () =>
    Effect.gen(function*() {
      let seen: Fallback.FailureContext | undefined
      yield* Effect.suspend(() => Effect.fail(new AgentError({ message: "bad" }))).pipe(
        Effect.withSpan("researchAgentThatFails"),
        Fallback.degrade((ctx) => Effect.sync(() => (seen = ctx)), { breaker: "research" })
      )
      expect(seen!.breaker).toBe("research")
      expect(seen!.traceback).toContain("AgentError")
      expect(seen!.traceback).toContain("researchAgentThatFails")
      const fromError = yield* open.pipe(Fallback.degrade((ctx) => Effect.succeed(ctx.breaker)))
      expect(fromError).toBe("research")
    }))

  it.effect("defects are never handled by a fallback", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.die("bug").pipe(Fallback.degrade(() => Effect.succeed("b"))))
      expect(exit._tag === "Failure" && Cause.isDie(exit.cause)).toBe(true)
    }))

  it.effect("records which strategy answered in the ledger and reports the confidence", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      let served: Fallback.Served | undefined
      yield* open.pipe(Fallback.degrade(() => Effect.succeed(1), {
        confidence: 0.6,
        onServed: (s) => Effect.sync(() => (served = s))
      }))
      expect(served).toMatchObject({ strategy: "degrade", breaker: "research", confidence: 0.6 })
      const [record] = yield* ledger.fallbacks!()
      expect(record).toMatchObject({ breakerName: "research", strategy: "degrade" })
      const [summary] = yield* ledger.summary
      expect(summary!.fallbacksServed).toBe(1)
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

describe("Fallback.escalate", () => {
  it.effect("a notifier answering Some(value) answers for the node", () =>
    Effect.gen(function*() {
      const result = yield* open.pipe(
        Fallback.escalate((ctx) => Effect.succeed(Option.some(`human answer for ${ctx.breaker}`)))
      )
      expect(result).toBe("human answer for research")
    }))

  it.effect("a notifier answering None fails with EscalatedError carrying the context", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(open.pipe(Fallback.escalate(() => Effect.succeed(Option.none()))))
      expect(error).toBeInstanceOf(EscalatedError)
      expect(error).toMatchObject({ _tag: "EscalatedError", breaker: "research" })
      expect((error as EscalatedError).traceback).toContain("CircuitOpenError")
    }))

  it.effect("a notifier that hangs is interrupted after its timeout and the pipeline goes on", () =>
    Effect.gen(function*() {
      let interrupted = false
      const fiber = yield* open.pipe(
        Fallback.escalate(() => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))), {
          timeout: "5 seconds"
        }),
        Effect.flip,
        Effect.fork
      )
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("EscalatedError")
      expect(error.message).toContain("no answer within 5s")
      expect(interrupted).toBe(true)
    }))

  it.effect("an outer strategy can still act on an EscalatedError", () =>
    Effect.gen(function*() {
      const result = yield* open.pipe(
        Fallback.escalate(() => Effect.succeed(Option.none())),
        Fallback.degrade(() => Effect.succeed("safe default"), { only: ["EscalatedError"] })
      )
      expect(result).toBe("safe default")
    }))
})

describe("Fallback.decompose", () => {
  it.effect("splits the task, runs the pieces with bounded concurrency and merges", () =>
    Effect.gen(function*() {
      let running = 0
      let peak = 0
      const result = yield* open.pipe(
        Fallback.decompose(
          () => Effect.succeed(["a", "b", "c", "d", "e"]),
          (doc) =>
            Effect.gen(function*() {
              running++
              peak = Math.max(peak, running)
              yield* Effect.sleep("1 second")
              running--
              return doc.toUpperCase()
            }),
          (parts) => parts.join(""),
          { concurrency: 2 }
        ),
        Effect.fork
      )
      yield* TestClock.adjust("3 seconds")
      expect(yield* Fiber.join(result)).toBe("ABCDE")
      expect(peak).toBe(2)
    }))

  it.effect("a failed piece fails the whole with a DecomposeError naming the piece", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(open.pipe(
        Fallback.decompose(
          () => Effect.succeed([1, 2, 3]),
          (n) => n === 2 ? Effect.fail(new AgentError({ message: "chunk too hard" })) : Effect.succeed(n),
          (ns) => ns.length
        )
      ))
      expect(error).toMatchObject({ _tag: "DecomposeError", piece: 1, breaker: "research" })
      expect(error.message).toContain("chunk too hard")
    }))
})

describe("chains through a real breaker", () => {
  it.effect("cache first, then the backup when the cache has nothing young enough", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "summary", failureThreshold: 1 })
      const store = yield* Fallback.makeCache<string>({ maxAge: "1 minute" })
      let healthy = true
      const node = Effect.suspend(() => healthy ? Effect.succeed("real") : researchAgentThatFails())
      const protectedNode = node.pipe(
        withBreaker(breaker),
        Fallback.cache(store, { key: "summary" }),
        Fallback.degrade(() => Effect.succeed("backup"))
      )
      expect(yield* protectedNode).toBe("real")
      healthy = false
      expect(yield* protectedNode).toBe("real") // node failed, cache answered; breaker now OPEN
      expect(yield* breaker.state).toBe("OPEN")
      yield* TestClock.adjust("2 minutes")
      expect(yield* protectedNode).toBe("backup") // probe failed, cache too old
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

/** the defect an effect died with, as text ("" if it did not die) */
const defectOf = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    exit._tag === "Failure"
      ? Option.match(Cause.dieOption(exit.cause), {
        onNone: () => "",
        onSome: (d) => `${(d as Error).name}: ${(d as Error).message}`
      })
      : "")

describe("options", () => {
  it.effect("makeCache dies with a ParseError naming maxAge when it is negative, NaN, infinite or unparsable", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[unknown, string]> = [
        [-1, "must be a non-negative duration, got -1"],
        ["-5 seconds", `must be a non-negative duration, got "-5 seconds"`],
        [NaN, "must be a non-negative duration, got NaN"],
        [Infinity, "must be a finite duration, got Infinity"],
        ["forever-ish", `must be a duration such as "30 seconds" or a number of milliseconds, got "forever-ish"`]
      ]
      for (const [maxAge, problem] of cases) {
        expect(yield* defectOf(Fallback.makeCache({ maxAge: maxAge as any }))).toBe(
          `ParseError: Fallback.makeCache: maxAge ${problem}`
        )
      }
    }))

  it.effect("maxAge 0 serves a value only within the millisecond it was stored", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeCache<string>({ maxAge: 0 })
      yield* store.set("k", "v")
      expect(yield* store.get("k")).toEqual(Option.some("v"))
      yield* TestClock.adjust("1 millis")
      expect(yield* store.get("k")).toEqual(Option.none())
    }))

  it.effect("escalate with a negative, NaN or unparsable timeout dies with a ParseError naming it, even on success", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[unknown, string]> = [
        [-1, "must be a non-negative duration, got -1"],
        [NaN, "must be a non-negative duration, got NaN"],
        ["later", `must be a duration such as "30 seconds" or a number of milliseconds, got "later"`]
      ]
      for (const [timeout, problem] of cases) {
        const escalated = Fallback.escalate(() => Effect.succeed(Option.some("human")), { timeout: timeout as any })
        const message = `ParseError: Fallback.escalate: timeout ${problem}`
        expect(yield* defectOf(Effect.succeed("fine").pipe(escalated))).toBe(message)
        expect(yield* defectOf(open.pipe(escalated))).toBe(message)
      }
      // a valid timeout still answers
      const answered = open.pipe(Fallback.escalate(() => Effect.succeed(Option.some("human")), { timeout: 0 }))
      expect(yield* Effect.either(answered)).toEqual(Either.right("human"))
    }))
})
