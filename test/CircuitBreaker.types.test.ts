import { describe, expectTypeOf, it } from "@effect/vitest"
import type {
  BreakerRegistry,
  BulkheadFullError,
  CallTimeoutError,
  CircuitBreaker,
  CircuitIsolatedError,
  CircuitOpenError,
  InvalidResultError
} from "agentarmour"
import { withBreaker } from "agentarmour"
import type { Effect } from "effect"

class Boom {
  readonly _tag = "Boom"
}
declare const node: Effect.Effect<number, Boom, "Deps">
declare const breaker: CircuitBreaker.CircuitBreaker

// type-level only: the declared values are never evaluated (`tsc` checks the claims)
describe("withBreaker types", () => {
  it("adds the breaker's errors to the node's and keeps its requirements", () => {
    const guarded = () => node.pipe(withBreaker(breaker))
    expectTypeOf(guarded).returns.toEqualTypeOf<
      Effect.Effect<
        number,
        Boom | CircuitOpenError | CallTimeoutError | CircuitIsolatedError | BulkheadFullError | InvalidResultError,
        "Deps"
      >
    >()
  })

  it("a registry name requires the BreakerRegistry", () => {
    expectTypeOf(() => withBreaker(node, "research")).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | CircuitBreaker.BreakerError, "Deps" | BreakerRegistry.BreakerRegistry>
    >()
  })
})
