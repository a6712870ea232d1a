import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program as fallbacks } from "../examples/fallbacks.js"
import { program as guard } from "../examples/guard.js"

describe("examples", () => {
  it.effect("examples/fallbacks.ts shows each strategy answering", () =>
    Effect.gen(function*() {
      const lines = yield* fallbacks
      expect(lines.join("\n")).toMatch(/cache, failing: +3 papers/)
      expect(lines.join("\n")).toContain("1 paper (cheap model)")
      expect(lines.join("\n")).toContain("on-call answered for research")
      expect(lines.join("\n")).toContain("1 paper on breakers; 1 paper on fallbacks; 1 paper on guards")
      expect(lines.at(-1)).toBe(`breaker "research" is OPEN, fallbacks served: 4`)
    }))

  it.effect("examples/guard.ts masks the failed run's entities and leaves the other run alone", () =>
    Effect.gen(function*() {
      const lines = yield* guard
      expect(lines[0]).toBe("thread-1: entities unavailable: upstream agent degraded")
      expect(lines[1]).toBe("thread-2: found 4 entities")
      expect(lines[2]).toContain("ledger: quarantine entities in thread-1")
    }))
})
