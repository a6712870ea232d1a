/**
 * The budget: per-run state in memory (bounded, idle runs forgotten),
 * per-window state in a `BudgetStore`, the charge target in a FiberRef.
 */
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

import type * as Budget from "../Budget.js"
import { currentRun } from "../CascadeGuard.js"
import { BudgetExceededError } from "./budgetError.js"
import { makeMemory, type MemoryStore, SpentNow } from "./budgetStore.js"
import { UsageRecord } from "./ledger/records.js"
import { Ledger } from "./ledger/service.js"

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

/**
 * The innermost enclosing `withBudget`, charged by `charge`.
 *
 * A performance trick (docs/performance.md, "withBudget" rows): setting a
 * FiberRef copies the fiber's FiberRef map, twice per call with
 * `Effect.locally` (several µs). Instead each fiber holds one mutable cell,
 * installed by its first `withBudget`; later calls only swap `cell.current`
 * and put the previous value back when the call ends. A forked fiber gets its
 * own cell holding the parent's current target, so children (a breaker's
 * call timeout runs the node in one) charge the right budget and never
 * disturb the parent's cell. Pinned by the "Budget.charge" tests.
 */
interface Cell {
  current: Target | undefined
  /** the targets of the enclosing calls, put back as calls end */
  readonly saved: Array<Target | undefined>
  /** one pair of handlers per fiber, so a call allocates no closures */
  readonly handlers: {
    readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<never, unknown>
    readonly onSuccess: (a: unknown) => Effect.Effect<unknown>
  }
}

const makeCell = (current: Target | undefined): Cell => {
  const cell: Cell = {
    current,
    saved: [],
    handlers: {
      onFailure: (cause) => {
        cell.current = cell.saved.pop()
        return Effect.failCause(cause)
      },
      onSuccess: (a) => {
        cell.current = cell.saved.pop()
        return Effect.succeed(a)
      }
    }
  }
  return cell
}

export const currentTarget: FiberRef.FiberRef<Cell | undefined> = globalValue(
  Symbol.for("agentarmour/Budget/currentTarget"),
  () =>
    FiberRef.unsafeMake<Cell | undefined>(undefined, {
      fork: (cell) => (cell === undefined || cell.current === undefined ? undefined : makeCell(cell.current)),
      join: (parent) => parent
    })
)

/** the synchronous check of a budget made by `make`, when it needs no store */
const AdmitNow: unique symbol = Symbol.for("agentarmour/Budget/admitNow") as any

/** the check of the current fiber's run, for `withBudget` (no closure per call) */
const AdmitCurrent: unique symbol = Symbol.for("agentarmour/Budget/admitCurrent") as any
/** runs an admitted call holding a reservation of its expected spend (budgets with token or cost limits) */
const Reserving: unique symbol = Symbol.for("agentarmour/Budget/reserving") as any

interface BudgetImpl extends Budget.Budget {
  readonly [AdmitNow]: ((runId: string, now: number) => BudgetExceededError | undefined) | undefined
  readonly [AdmitCurrent]: Effect.Effect<void, BudgetExceededError>
  readonly [Reserving]:
    | (<A, E, R>(admitted: Effect.Effect<A, E, R>, runId: string) => Effect.Effect<A, E, R>)
    | undefined
}

interface RunState {
  calls: number
  tokens: number
  costUsd: number
  lastSeen: number
  /** calls of the run admitted and not ended (their expected spend is reserved) */
  inFlight: number
}

const ignoreCause = () => Effect.void

const amount = (n: number | undefined): number => (n !== undefined && Number.isFinite(n) && n > 0 ? n : 0)

export const make = (
  config: Budget.BudgetConfig,
  explicitStore: Budget.BudgetStore | undefined
): Effect.Effect<Budget.Budget, never, Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
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
    /** the window's spend as last read or charged here (stores read with an Effect) */
    let windowTokensSeen = 0
    let windowCostSeen = 0

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
    // the run seen last is already at the most recent end of `runs`: calls of one run skip the reordering
    let lastRunId: string | undefined
    let lastRun: RunState | undefined
    /** the state of `runId`, moved to the most recently seen end; a run idle too long starts afresh */
    const runState = (runId: string, now: number): RunState => {
      if (runId === lastRunId && lastRun!.lastSeen + idleMillis > now) {
        lastRun!.lastSeen = now
        return lastRun!
      }
      let run = runs.get(runId)
      if (run !== undefined) runs.delete(runId)
      if (run === undefined || run.lastSeen + idleMillis <= now) {
        run = { calls: 0, tokens: 0, costUsd: 0, lastSeen: now, inFlight: 0 }
      } else {
        run.lastSeen = now
      }
      runs.set(runId, run)
      evict(now)
      lastRunId = runId
      lastRun = run
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

    const checkCost: Effect.Effect<BudgetExceededError | undefined> = perWindow?.costUsd === undefined
      ? Effect.succeed(undefined)
      : Effect.map(spentIn(costKey), (cost) =>
        cost !== undefined && (windowCostSeen = cost.spent) >= perWindow.costUsd!
          ? refuse("window", "costUsd", perWindow.costUsd!, cost.spent, cost.resetAfterMillis)
          : undefined)

    /** refuses when a window amount is spent */
    const checkAmounts: Effect.Effect<BudgetExceededError | undefined> = perWindow === undefined ||
        (perWindow.tokens === undefined && perWindow.costUsd === undefined)
      ? Effect.succeed(undefined)
      : Effect.flatMap(
        perWindow.tokens === undefined ? Effect.succeed(undefined) : spentIn(tokensKey),
        (tokens) => {
          if (tokens !== undefined) windowTokensSeen = tokens.spent
          if (tokens !== undefined && tokens.spent >= perWindow.tokens!) {
            return Effect.succeed(refuse("window", "tokens", perWindow.tokens!, tokens.spent, tokens.resetAfterMillis))
          }
          return checkCost
        }
      )

    const takeCall: Effect.Effect<BudgetExceededError | undefined> = perWindow?.calls === undefined
      ? Effect.succeed(undefined)
      : Effect.matchEffect(store!.takeCall(callsKey, perWindow.calls, window), {
        onFailure: (e) => Effect.as(storeFailed(e), undefined),
        onSuccess: (permit) =>
          Effect.succeed(
            permit.taken
              ? undefined
              : refuse("window", "calls", perWindow.calls!, permit.count, permit.retryAfterMillis)
          )
      })

    const unreserveRun = (runId: string) => {
      if (perRun === undefined) return
      const run = runs.get(runId)
      if (run !== undefined && run.calls > 0) run.calls--
    }

    const hasAmounts = perWindow !== undefined && (perWindow.tokens !== undefined || perWindow.costUsd !== undefined)
    const hasCalls = perWindow?.calls !== undefined

    /** a refusal: fails, or in "wait" mode waits for the window and checks again */
    const onRefused = (refused: BudgetExceededError): Effect.Effect<void, BudgetExceededError> =>
      // a run's budget never comes back, and a zero limit never lets anything through
      !wait || refused.retryAfterMillis === null || refused.limit === 0
        ? Effect.fail(refused)
        : Effect.zipRight(Effect.sleep(Duration.millis(Math.max(1, refused.retryAfterMillis))), admitCurrent)

    /** after a call permit was refused: the run gives the call back */
    const callRefused = (refused: BudgetExceededError) =>
      Effect.withFiberRuntime<void, BudgetExceededError>((fiber) => {
        unreserveRun(fiber.getFiberRef(currentRun))
        return onRefused(refused)
      })
    const afterTake = (refused: BudgetExceededError | undefined): Effect.Effect<void, BudgetExceededError> =>
      refused === undefined ? Effect.void : callRefused(refused)
    const takeCallOrRefuse: Effect.Effect<void, BudgetExceededError> = Effect.flatMap(takeCall, afterTake)

    // the memory store's windows are read without an Effect, in the same step as the run
    const spentNow = store !== undefined && SpentNow in store ? (store as MemoryStore)[SpentNow] : undefined
    const syncAmounts = hasAmounts && spentNow !== undefined
    /** refuses when a window amount is spent (memory store, synchronously) */
    const amountsNow = (now: number): BudgetExceededError | undefined =>
      amountNow("tokens", tokensKey, perWindow?.tokens, now) ?? amountNow("costUsd", costKey, perWindow?.costUsd, now)
    const amountNow = (
      resource: "tokens" | "costUsd",
      key: string,
      limit: number | undefined,
      now: number
    ): BudgetExceededError | undefined => {
      if (limit === undefined) return undefined
      const w = spentNow!(key, windowMillis, now)
      const spent = w?.spent ?? 0
      if (spent < limit) return undefined
      return refuse("window", resource, limit, spent, w === undefined ? windowMillis : w.start + windowMillis - now)
    }

    /** the window amounts (memory store), the run (counting the call), then a window call permit */
    const runThenCall: Effect.Effect<void, BudgetExceededError> = Effect.withFiberRuntime((fiber) => {
      const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
      if (syncAmounts) {
        const spent = amountsNow(now)
        if (spent !== undefined) return onRefused(spent)
      }
      const refused = admitRun(fiber.getFiberRef(currentRun), now)
      if (refused !== undefined) return onRefused(refused)
      return hasCalls ? takeCallOrRefuse : Effect.void
    })

    /**
     * The check of the current fiber's run with a store involved: the window
     * amounts, then the run, then a window call permit; in "wait" mode, again
     * after the window resets. Built once: a call allocates no closures.
     */
    const admitCurrent: Effect.Effect<void, BudgetExceededError> = hasAmounts && !syncAmounts
      ? Effect.flatMap(checkAmounts, (refused) => (refused === undefined ? runThenCall : onRefused(refused)))
      : runThenCall

    const admitFor = (runId: string): Effect.Effect<void, BudgetExceededError> =>
      Effect.locally(admitCurrent, currentRun, runId)

    const addTo = (key: string, n: number) => Effect.catchAll(store!.add(key, n, window), storeFailed)

    const charge = (runId: string, usage: Budget.Usage): Effect.Effect<void> =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        const tokensIn = amount(usage.tokensIn)
        const tokensOut = amount(usage.tokensOut)
        const tokens = usage.tokens === undefined ? tokensIn + tokensOut : amount(usage.tokens)
        const costUsd = amount(usage.costUsd)
        if (config.estimate === undefined) {
          if (tokens > expectedTokens) expectedTokens = tokens
          if (costUsd > expectedCost) expectedCost = costUsd
        }
        windowTokensSeen += tokens
        windowCostSeen += costUsd
        if (perRun !== undefined) {
          const run = runState(runId, now)
          run.tokens += tokens
          run.costUsd += costUsd
        }
        let effect: Effect.Effect<void> = Effect.catchAllCause(
          ledger.recordUsage(
            new UsageRecord({
              node: usage.node ?? name,
              budget: name,
              runId: runId === DEFAULT_RUN ? null : runId,
              model: usage.model ?? null,
              // tokens given without a split count as input tokens, so the ledger's totals add up
              tokensIn: usage.tokensIn === undefined && usage.tokensOut === undefined ? tokens : tokensIn,
              tokensOut,
              costUsd,
              createdAt: new Date(now)
            }, { disableValidation: true }) // built from checked numbers: skip the Schema check on the hot path
          ),
          ignoreCause
        )
        if (perWindow?.costUsd !== undefined && costUsd > 0) effect = Effect.zipRight(addTo(costKey, costUsd), effect)
        if (perWindow?.tokens !== undefined && tokens > 0) effect = Effect.zipRight(addTo(tokensKey, tokens), effect)
        return effect
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
      if (lastRunId !== undefined && !runs.has(lastRunId)) lastRunId = lastRun = undefined
      return runs.size
    })

    /** the whole check without an Effect when no store is involved (per-run limits only) */
    // ("wait" mode on a window needs the effectful path, which sleeps)
    const admitNow = hasCalls || (hasAmounts && (!syncAmounts || wait))
      ? undefined
      : syncAmounts
      ? (runId: string, now: number): BudgetExceededError | undefined => amountsNow(now) ?? admitRun(runId, now)
      : (runId: string, now: number): BudgetExceededError | undefined => admitRun(runId, now)

    // ---- calls in flight (0.2.1): each counts for its expected spend until it ends, so that
    // concurrent calls overrun a token or cost limit by at most one call's spend
    const estimate = config.estimate
    let expectedTokens = estimate?.tokens ?? 0
    let expectedCost = estimate?.costUsd ?? 0
    /** an estimate was given, or a call has ended (its largest charge, or nothing, is known) */
    let known = estimate !== undefined
    let windowInFlight = 0
    let released = Deferred.unsafeMake<void>(FiberId.none)
    const runAmounts = perRun !== undefined && (perRun.tokens !== undefined || perRun.costUsd !== undefined)

    /** whether `spent` plus what `inFlight` calls are expected to spend reaches `limit` (while `spent` is under it) */
    const projected = (limit: number | undefined, spent: number, inFlight: number, expected: number) =>
      limit !== undefined && spent < limit && (!known || spent + inFlight * expected >= limit)

    /** whether a new call must wait for one in flight to end */
    const mustWait = (runId: string, now: number): boolean => {
      if (runAmounts) {
        const run = runState(runId, now)
        if (
          run.inFlight > 0 && (projected(perRun!.tokens, run.tokens, run.inFlight, expectedTokens) ||
            projected(perRun!.costUsd, run.costUsd, run.inFlight, expectedCost))
        ) return true
      }
      if (hasAmounts && windowInFlight > 0) {
        const tokens = perWindow!.tokens === undefined
          ? 0
          : spentNow === undefined
          ? windowTokensSeen
          : spentNow(tokensKey, windowMillis, now)?.spent ?? 0
        const cost = perWindow!.costUsd === undefined
          ? 0
          : spentNow === undefined
          ? windowCostSeen
          : spentNow(costKey, windowMillis, now)?.spent ?? 0
        if (
          projected(perWindow!.tokens, tokens, windowInFlight, expectedTokens) ||
          projected(perWindow!.costUsd, cost, windowInFlight, expectedCost)
        ) return true
      }
      return false
    }

    const reserve = (runId: string, now: number) => {
      if (runAmounts) runState(runId, now).inFlight++
      if (hasAmounts) windowInFlight++
    }

    const release = (runId: string) => {
      if (runAmounts) {
        const run = runs.get(runId)
        if (run !== undefined && run.inFlight > 0) run.inFlight--
      }
      if (hasAmounts && windowInFlight > 0) windowInFlight--
      known = true
      const d = released
      released = Deferred.unsafeMake<void>(FiberId.none)
      Deferred.unsafeDone(d, Exit.void)
    }

    /** waits until the run and the window have room for one more call in flight, then reserves it */
    const reserveTurn = (runId: string): Effect.Effect<void> =>
      Effect.withFiberRuntime((fiber) => {
        const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
        if (mustWait(runId, now)) return Effect.zipRight(Deferred.await(released), reserveTurn(runId))
        reserve(runId, now)
        return Effect.void
      })

    const reserving = runAmounts || hasAmounts
      ? <A, E, R>(admitted: Effect.Effect<A, E, R>, runId: string): Effect.Effect<A, E, R> =>
        Effect.uninterruptibleMask((restore) =>
          Effect.zipRight(
            restore(reserveTurn(runId)),
            Effect.ensuring(restore(admitted), Effect.sync(() => release(runId)))
          )
        )
      : undefined

    const budget: BudgetImpl = {
      [TypeId]: TypeId,
      name,
      config,
      spent,
      trackedRuns,
      admit: admitFor,
      charge,
      [AdmitNow]: admitNow,
      [AdmitCurrent]: admitCurrent,
      [Reserving]: reserving
    }
    return budget
  })

/** runs `self` with `target` as the charge target of the fiber (`cell` is the fiber's cell, if installed) */
const withTarget = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  cell: Cell | undefined,
  target: Target
): Effect.Effect<A, E, R> => {
  if (cell === undefined) {
    // the first withBudget of this fiber installs its cell (the only FiberRef write)
    const installed = makeCell(undefined)
    return Effect.zipRight(FiberRef.set(currentTarget, installed), Effect.suspend(() => swap(self, installed, target)))
  }
  return swap(self, cell, target)
}

/** sets the cell's target now, and puts the previous one back when `self` ends */
const swap = <A, E, R>(self: Effect.Effect<A, E, R>, cell: Cell, target: Target): Effect.Effect<A, E, R> => {
  cell.saved.push(cell.current)
  cell.current = target
  return Effect.matchCauseEffect(self, cell.handlers) as Effect.Effect<A, E, R>
}

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
  <A, E, R>(self: Effect.Effect<A, E, R>, budget: Budget.Budget, options?: { readonly node?: string | undefined }) => {
    const node = options?.node
    const admitNow = (budget as BudgetImpl)[AdmitNow]
    // built once per wrapped effect: runs `self` charging `budget` (after an effectful check)
    const run = Effect.withFiberRuntime<A, E, R>((fiber) =>
      withTarget(self, fiber.getFiberRef(currentTarget), { budget, runId: fiber.getFiberRef(currentRun), node })
    )
    const admitCurrent = (budget as BudgetImpl)[AdmitCurrent]
    const reserving = (budget as BudgetImpl)[Reserving]
    const inner: Effect.Effect<A, E | BudgetExceededError, R> = admitNow === undefined
      ? Effect.zipRight(
        admitCurrent ?? Effect.flatMap(FiberRef.get(currentRun), (runId) => budget.admit(runId)),
        run
      )
      : admitNowThenRun(self, budget, admitNow, node)
    return reserving === undefined
      ? inner
      : Effect.withFiberRuntime<A, E | BudgetExceededError, R>((fiber) =>
        reserving<A, E | BudgetExceededError, R>(inner, fiber.getFiberRef(currentRun))
      )
  }
)

/** no store involved: the check and the call in one step, without another Effect */
const admitNowThenRun = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  budget: Budget.Budget,
  admitNow: (runId: string, now: number) => BudgetExceededError | undefined,
  node: string | undefined
): Effect.Effect<A, E | BudgetExceededError, R> =>
  Effect.withFiberRuntime<A, E | BudgetExceededError, R>((fiber) => {
    const runId = fiber.getFiberRef(currentRun)
    // no store involved: check and run in this step, without another Effect
    const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
    const refused = admitNow(runId, now)
    return refused === undefined
      ? withTarget(self, fiber.getFiberRef(currentTarget), { budget, runId, node })
      : Effect.fail(refused)
  })

export const charge = (usage: Budget.Usage): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const target = fiber.getFiberRef(currentTarget)?.current
    if (target === undefined) return Effect.void
    return target.budget.charge(
      target.runId,
      usage.node === undefined && target.node !== undefined ? { ...usage, node: target.node } : usage
    )
  })
