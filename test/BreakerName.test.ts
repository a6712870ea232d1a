/**
 * Breaker names (0.2.1): 1 to 200 characters without NUL or other control
 * characters, checked wherever a breaker is made; a ParseError names `name`.
 */
import { describe, expect, it } from "@effect/vitest"
import { BreakerRegistry, CircuitBreaker, isBreakerName, Ledger } from "agentarmour"
import { Cause, Effect, Exit, Option } from "effect"

const bad: ReadonlyArray<[string, string]> = [
  ["empty", ""],
  ["201 characters", "x".repeat(201)],
  ["a NUL", "nul\u0000byte"],
  ["a newline", "two\nlines"],
  ["an escape", "red\u001b[31m"],
  ["a DEL", "del\u007f"]
]

describe("breaker names", () => {
  for (const [what, name] of bad) {
    it.effect(`CircuitBreaker.make refuses a name with ${what}: a ParseError naming name`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(CircuitBreaker.make({ name }))
        expect(error._tag).toBe("ParseError")
        expect(error.message).toContain("name")
        expect(isBreakerName(name)).toBe(false)
      }).pipe(Effect.provide(Ledger.layerMemory)))
  }

  it.effect("200 characters, spaces and any printable Unicode are names", () =>
    Effect.gen(function*() {
      for (const name of ["x".repeat(200), "research agent", "研究 🔎", "<img src=x onerror=alert(1)>"]) {
        const b = yield* CircuitBreaker.make({ name })
        expect(b.name).toBe(name)
      }
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("BreakerRegistry.get refuses a bad name as a defect naming it, also without overrides", () =>
    Effect.gen(function*() {
      const registry = yield* BreakerRegistry.make()
      for (const [, name] of bad) {
        const exit = yield* Effect.exit(registry.get(name))
        expect(Exit.isFailure(exit)).toBe(true)
        const defect = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined
        expect(String((defect as Error)?.message)).toContain("breaker name")
      }
      expect((yield* registry.all).size).toBe(0)
    }).pipe(Effect.provide(Ledger.layerMemory)))
})
