import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program as fallbacks } from "../examples/fallbacks.js"

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
})
