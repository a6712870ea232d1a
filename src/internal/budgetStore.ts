/**
 * The default (in-memory) `BudgetStore`.
 *
 * Calls per window go through `@effect/experimental`'s `RateLimiter`
 * (fixed-window algorithm, `layerStoreMemory`): taking one call permit before
 * the call is exactly what `consume` does. Token and cost windows cannot go
 * through it: they are charged *after* the call with an amount known only
 * then, and `consume` refuses to record an amount larger than the limit (the
 * crossing call would not be charged) and stretches the window in proportion
 * to the amount. So amounts live in fixed windows of our own here, with the
 * RateLimiter's window semantics when a budget is used up: a window opens with
 * the first charge after the previous one closed and lasts `window`.
 *
 * `@effect/experimental` is imported lazily, when the first store is built,
 * so importing `agentarmour` loads `effect` only.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

import type * as Budget from "../Budget.js"
import { BudgetStoreError } from "./budgetError.js"

export interface AmountWindow {
  readonly start: number
  spent: number
}

/**
 * The memory store's synchronous read of a window (`spent`, without an
 * Effect): a budget on this store checks its token and cost windows in the
 * same step as its run (docs/performance.md, "Budgets").
 */
export const SpentNow: unique symbol = Symbol.for("agentarmour/BudgetStore/spentNow") as any

export interface MemoryStore extends Budget.BudgetStore {
  /** the open window of `key` (its start and what it holds), `undefined` when none is open */
  readonly [SpentNow]: (key: string, windowMillis: number, now: number) => AmountWindow | undefined
}

/** a permit answer shared by every successful take (no allocation on the hot path) */
const TAKEN: Budget.CallPermit = { taken: true }

export const makeMemory: Effect.Effect<Budget.BudgetStore> = Effect.gen(function*() {
  const RateLimiter = yield* Effect.promise(() => import("@effect/experimental/RateLimiter"))
  const limiter = yield* RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory))
  const windows = new Map<string, AmountWindow>()

  /** the consume call of one key, built once: a call allocates nothing of its own */
  const consumer = (key: string, limit: number, window: Duration.Duration) => ({
    limit,
    window,
    take: Effect.matchEffect(
      limiter.consume({ key, limit, window, tokens: 1, onExceeded: "fail", algorithm: "fixed-window" }),
      {
        onFailure: (error): Effect.Effect<Budget.CallPermit, BudgetStoreError> =>
          error.reason === "Exceeded"
            ? Effect.succeed({
              taken: false,
              count: limit,
              retryAfterMillis: Math.max(0, Duration.toMillis(error.retryAfter))
            })
            : Effect.fail(new BudgetStoreError({ message: error.message, cause: error })),
        onSuccess: () => Effect.succeed(TAKEN)
      }
    )
  })
  const consumers = new Map<string, ReturnType<typeof consumer>>()

  /** the open window of `key`, `undefined` when none is open (an expired one is removed) */
  const open = (key: string, windowMillis: number, now: number): AmountWindow | undefined => {
    const w = windows.get(key)
    if (w === undefined) return undefined
    if (now >= w.start + windowMillis) {
      windows.delete(key)
      return undefined
    }
    return w
  }

  const store: MemoryStore = {
    [SpentNow]: open,
    takeCall: (key, limit, window) => {
      if (limit <= 0) return Effect.succeed({ taken: false, count: 0, retryAfterMillis: Duration.toMillis(window) })
      let consume = consumers.get(key)
      if (consume === undefined || consume.limit !== limit || consume.window !== window) {
        consume = consumer(key, limit, window)
        consumers.set(key, consume)
      }
      return consume.take
    },
    spent: (key, window) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const windowMillis = Duration.toMillis(window)
        const w = open(key, windowMillis, now)
        return w === undefined
          ? { spent: 0, resetAfterMillis: windowMillis }
          : { spent: w.spent, resetAfterMillis: w.start + windowMillis - now }
      }),
    add: (key, amount, window) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const w = open(key, Duration.toMillis(window), now)
        if (w === undefined) windows.set(key, { start: now, spent: amount })
        else w.spent += amount
      })
  }
  return store
})
