/**
 * The budget: per-run state in memory (bounded, idle runs forgotten),
 * per-window state in a `BudgetStore`, the charge target in a FiberRef.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Budget from "../Budget.js"
import { currentRun } from "../CascadeGuard.js"
import * as Ledger from "../Ledger.js"
import { BudgetExceededError } from "./budgetError.js"
import { makeMemory } from "./budgetStore.js"

export const TypeId: Budget.TypeId = Symbol.for("agentarmour/Budget") as Budget.TypeId

export const isBudget = (u: unknown): u is Budget.Budget => typeof u === "object" && u !== null && TypeId in u

export const BudgetStoreTag = Context.GenericTag<Budget.BudgetStore>("agentarmour/BudgetStore")

export const makeStoreMemory: Effect.Effect<Budget.BudgetStore> = makeMemory

export const layerStoreMemory: Layer.Layer<Budget.BudgetStore> = Layer.effect(BudgetStoreTag, makeMemory)

/** the run id the guard uses outside any run (recorded as `null` in the ledger) */
const DEFAULT_RUN = "default"

interface Target {
  readonly budget: Budget.Budget
  readonly runId: string
  readonly node: string | undefined
}

/** the innermost enclosing `withBudget`, charged by `charge` */
export const currentTarget: FiberRef.FiberRef<Target | undefined> = globalValue(
  Symbol.for("agentarmour/Budget/currentTarget"),
  () => FiberRef.unsafeMake<Target | undefined>(undefined)
)

interface RunState {
  calls: number
  tokens: number
  costUsd: number
  lastSeen: number
}

const amount = (n: number | undefined): number => (n !== undefined && Number.isFinite(n) && n > 0 ? n : 0)

export const make = (
  config: Budget.BudgetConfig,
  explicitStore: Budget.BudgetStore | undefined
): Effect.Effect<Budget.Budget, never, Ledger.Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const name = config.name
    const perRun = config.perRun
    const perWindow = config.perWindow
    const wait = config.onExceeded === "wait"
    const needsStore = perWindow !== undefined &&
      (perWindow.calls !== undefined || perWindow.tokens !== undefined || perWindow.costUsd !== undefined)
    const store: Budget.BudgetStore | undefined = explicitStore ??
      (needsStore
        ? Option.getOrUndefined(yield* Effect.serviceOption(BudgetStoreTag)) ?? (yield* makeMemory)
        : undefined)
    const window = perWindow?.window ?? Duration.infinity
    const windowMillis = Duration.toMillis(window)
    const tokensKey = `${name}:tokens`
    const costKey = `${name}:costUsd`
    const callsKey = `${name}:calls`

    // ---- per-run state: a Map in least-recently-seen order, bounded and expiring
    const maxRuns = config.maxRuns
    const idleMillis = Duration.toMillis(config.runIdleTimeout)
    const runs = new Map<string, RunState>()

    /** forgets the least recently seen runs beyond `maxRuns` and those idle too long */
    const evict = (now: number) => {
      for (const [id, run] of runs) {
        if (runs.size > maxRuns || run.lastSeen + idleMillis <= now) runs.delete(id)
        else break
      }
    }
    /** the state of `runId`, moved to the most recently seen end */
    const runState = (runId: string, now: number): RunState => {
      let run = runs.get(runId)
      if (run === undefined) {
        run = { calls: 0, tokens: 0, costUsd: 0, lastSeen: now }
      } else {
        runs.delete(runId)
        run.lastSeen = now
      }
      runs.set(runId, run)
      evict(now)
      return run
    }

    const refuse = (
      scope: "run" | "window",
      resource: "tokens" | "costUsd" | "calls",
      limit: number,
      spent: number,
      retryAfterMillis: number | null
    ) => new BudgetExceededError({ budget: name, scope, resource, limit, spent, retryAfterMillis })

    /** refuses when the run is spent; otherwise counts the call in the run */
    const admitRun = (runId: string, now: number): BudgetExceededError | undefined => {
      if (perRun === undefined) return undefined
      const run = runState(runId, now)
      if (perRun.tokens !== undefined && run.tokens >= perRun.tokens) {
        return refuse("run", "tokens", perRun.tokens, run.tokens, null)
      }
      if (perRun.costUsd !== undefined && run.costUsd >= perRun.costUsd) {
        return refuse("run", "costUsd", perRun.costUsd, run.costUsd, null)
      }
      if (perRun.calls !== undefined && run.calls >= perRun.calls) {
        return refuse("run", "calls", perRun.calls, run.calls, null)
      }
      run.calls++
      return undefined
    }

    const storeFailed = (error: Budget.BudgetStoreError) =>
      Effect.logWarning(`budget "${name}": store unavailable, the call runs unchecked: ${error.message}`)

    /** a store read that fails open (`undefined`) */
    const spentIn = (key: string) =>
      Effect.catchAll(store!.spent(key, window), (e) => Effect.as(storeFailed(e), undefined))

    /** refuses when a window amount is spent */
    const checkAmounts: Effect.Effect<BudgetExceededError | undefined> = perWindow === undefined ||
        (perWindow.tokens === undefined && perWindow.costUsd === undefined)
      ? Effect.succeed(undefined)
      : Effect.flatMap(
        perWindow.tokens === undefined ? Effect.succeed(undefined) : spentIn(tokensKey),
        (tokens) => {
          if (tokens !== undefined && tokens.spent >= perWindow.tokens!) {
            return Effect.succeed(refuse("window", "tokens", perWindow.tokens!, tokens.spent, tokens.resetAfterMillis))
          }
          if (perWindow.costUsd === undefined) return Effect.succeed(undefined)
          return Effect.map(spentIn(costKey), (cost) =>
            cost !== undefined && cost.spent >= perWindow.costUsd!
              ? refuse("window", "costUsd", perWindow.costUsd!, cost.spent, cost.resetAfterMillis)
              : undefined)
        }
      )

    const takeCall: Effect.Effect<BudgetExceededError | undefined> = perWindow?.calls === undefined
      ? Effect.succeed(undefined)
      : Effect.map(
        Effect.catchAll(store!.takeCall(callsKey, perWindow.calls, window), (e) =>
          Effect.as(storeFailed(e), { taken: true } as const)),
        (permit) =>
          permit.taken ? undefined : refuse("window", "calls", perWindow.calls!, permit.count, permit.retryAfterMillis)
      )

    const unreserveRun = (runId: string) =>
      Effect.sync(() => {
        const run = runs.get(runId)
        if (run !== undefined && run.calls > 0) run.calls--
      })

    /** one attempt: the window amounts, then the run (counting the call), then a window call permit */
    const attempt = (runId: string): Effect.Effect<BudgetExceededError | undefined> =>
      Effect.flatMap(checkAmounts, (refused) => {
        if (refused !== undefined) return Effect.succeed(refused)
        return Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const runRefused = admitRun(runId, now)
          if (runRefused !== undefined) return Effect.succeed(runRefused)
          return Effect.flatMap(takeCall, (callRefused) =>
            callRefused === undefined
              ? Effect.succeed(undefined)
              : Effect.as(perRun === undefined ? Effect.void : unreserveRun(runId), callRefused))
        })
      })

    const admitFor = (runId: string): Effect.Effect<void, BudgetExceededError> => {
      const loop: Effect.Effect<void, BudgetExceededError> = Effect.flatMap(attempt(runId), (refused) => {
        if (refused === undefined) return Effect.void
        // a run's budget never comes back, and a zero limit never lets anything through
        if (!wait || refused.retryAfterMillis === null || refused.limit === 0) return Effect.fail(refused)
        return Effect.zipRight(Effect.sleep(Duration.millis(Math.max(1, refused.retryAfterMillis))), loop)
      })
      return loop
    }

    const addTo = (key: string, n: number) =>
      Effect.catchAll(store!.add(key, n, window), storeFailed)

    const charge = (runId: string, usage: Budget.Usage): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const tokensIn = amount(usage.tokensIn)
        const tokensOut = amount(usage.tokensOut)
        const tokens = usage.tokens === undefined ? tokensIn + tokensOut : amount(usage.tokens)
        const costUsd = amount(usage.costUsd)
        if (perRun !== undefined) {
          const run = runState(runId, now)
          run.tokens += tokens
          run.costUsd += costUsd
        }
        const writes: Array<Effect.Effect<void>> = []
        if (perWindow?.tokens !== undefined && tokens > 0) writes.push(addTo(tokensKey, tokens))
        if (perWindow?.costUsd !== undefined && costUsd > 0) writes.push(addTo(costKey, costUsd))
        writes.push(
          ledger.recordUsage(
            new Ledger.UsageRecord({
              node: usage.node ?? name,
              budget: name,
              runId: runId === DEFAULT_RUN ? null : runId,
              model: usage.model ?? null,
              // tokens given without a split count as input tokens, so the ledger's totals add up
              tokensIn: usage.tokensIn === undefined && usage.tokensOut === undefined ? tokens : tokensIn,
              tokensOut,
              costUsd,
              createdAt: new Date(now)
            })
          ).pipe(Effect.catchAllCause(() => Effect.void))
        )
        return Effect.all(writes, { discard: true })
      })

    const spent = Effect.flatMap(FiberRef.get(currentRun), (runId) =>
      Effect.gen(function*() {
        const run = runs.get(runId)
        const tokens = perWindow?.tokens !== undefined ? yield* spentIn(tokensKey) : undefined
        const cost = perWindow?.costUsd !== undefined ? yield* spentIn(costKey) : undefined
        return {
          run: { calls: run?.calls ?? 0, tokens: run?.tokens ?? 0, costUsd: run?.costUsd ?? 0 },
          window: { tokens: tokens?.spent ?? 0, costUsd: cost?.spent ?? 0 }
        }
      }))

    const trackedRuns = Effect.map(Clock.currentTimeMillis, (now) => {
      evict(now)
      return runs.size
    })

    const budget: Budget.Budget = { [TypeId]: TypeId, name, config, spent, trackedRuns, admit: admitFor, charge }
    return budget
  })

export const withBudget = dual<
  (budget: Budget.Budget, options?: { readonly node?: string | undefined }) => <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | BudgetExceededError, R>,
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    budget: Budget.Budget,
    options?: { readonly node?: string | undefined }
  ) => Effect.Effect<A, E | BudgetExceededError, R>
>(
  (args) => Effect.isEffect(args[0]),
  (self, budget, options) =>
    Effect.flatMap(FiberRef.get(currentRun), (runId) =>
      Effect.zipRight(
        budget.admit(runId),
        Effect.locally(self, currentTarget, { budget, runId, node: options?.node })
      ))
)

export const charge = (usage: Budget.Usage): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(currentTarget), (target) =>
    target === undefined
      ? Effect.void
      : target.budget.charge(target.runId, usage.node === undefined && target.node !== undefined ? { ...usage, node: target.node } : usage))
