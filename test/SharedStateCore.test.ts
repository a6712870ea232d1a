/**
 * The SharedState seam lives in the core (issue 24): its tag, types, engine
 * and memory store come from `agentarmour`, so another store needs no
 * `agentarmour/pg`; `agentarmour/pg` re-exports the same names.
 */
import { describe, expect, it } from "@effect/vitest"
import { CircuitBreaker, Ledger, SharedState, withBreaker } from "agentarmour"
import { SharedState as PgSharedState } from "agentarmour/pg"
import { Context, Effect, Either, Layer, Option, TestClock } from "effect"

/** a store of one's own on a Map, without pushes: the engine polls it */
const mapStore = (rows: Map<string, SharedState.SharedBreakerState>): SharedState.SharedStore => ({
  write: (batch) =>
    Effect.sync(() => {
      const changed: Array<SharedState.SharedBreakerState> = []
      const unchanged: Array<SharedState.SharedBreakerState> = []
      for (const p of batch) {
        const current = rows.get(p.breaker)
        if (SharedState.accepts(current, p)) {
          const row = SharedState.applied(current, p)
          rows.set(p.breaker, row)
          changed.push(row)
        } else if (current !== undefined) unchanged.push(current)
      }
      return { changed, unchanged }
    }),
  readAll: Effect.sync(() => [...rows.values()]),
  listen: Option.none()
})

const settle = Effect.repeatN(Effect.yieldNow(), 50)

describe("SharedState in the core", () => {
  it("agentarmour/pg exports the core's tag and memory board under the same names", () => {
    expect(PgSharedState.SharedState).toBe(SharedState.SharedState)
    expect(PgSharedState.MemoryBoard).toBe(SharedState.MemoryBoard)
    expect(PgSharedState.layerMemory).toBe(SharedState.layerMemory)
  })

  it.scoped("a store of one's own, through layerStore: a breaker opened in one process is OPEN in another", () =>
    Effect.gen(function*() {
      const rows = new Map<string, SharedState.SharedBreakerState>()
      const processOn = () =>
        Layer.build(
          Layer.mergeAll(Ledger.layerMemory, SharedState.layerStore(mapStore(rows), { syncInterval: "1 second" }))
        )
      const [ctxA, ctxB] = [yield* processOn(), yield* processOn()]
      const breakerIn = (ctx: Context.Context<Ledger.Ledger | SharedState.SharedState>) =>
        CircuitBreaker.make({ name: "research", failureThreshold: 1 }).pipe(Effect.provide(ctx))
      const [a, b] = [yield* breakerIn(ctxA), yield* breakerIn(ctxB)]
      yield* Effect.either(Effect.fail("503").pipe(withBreaker(a)))
      yield* settle
      expect(rows.get("research")?.state).toBe("OPEN")
      // no pushes: B's engine reads every row once per syncInterval
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("100 millis")
      expect(yield* b.state).toBe("OPEN")
      expect(Context.get(ctxB, SharedState.SharedState).origin).not.toBe(
        Context.get(ctxA, SharedState.SharedState).origin
      )
    }))

  it.effect("layerStore fails with a ParseError naming a bad interval", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.either(
        Layer.build(SharedState.layerStore(mapStore(new Map()), { publishInterval: -1 })).pipe(Effect.scoped)
      )
      expect(Either.isLeft(exit) && exit.left._tag).toBe("ParseError")
      expect(Either.isLeft(exit) && exit.left.message).toContain("publishInterval")
    }))
})
