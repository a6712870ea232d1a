/**
 * Budget: what an agent may spend — tokens, dollars, calls — per run and per
 * time window, with typed refusals that fallbacks turn into a cheaper path.
 *
 * ```ts
 * const budget = yield* Budget.make({
 *   name: "research",
 *   perRun: { costUsd: 0.5 },
 *   perWindow: { calls: 60, window: "1 minute" }
 * })
 * const answer = yield* research(question).pipe(
 *   withBudget(budget),                                           // refuses with BudgetExceededError when spent
 *   Fallback.degrade(() => cheaperModel(question), { only: ["BudgetExceededError"] })
 * )
 * ```
 *
 * - A call is refused before it runs when its budget is spent. The call that
 *   crosses a limit completes and is charged. `calls: N` allows N calls;
 *   tokens and cost refuse once spent ≥ limit.
 * - Per-run limits follow the guard's run (`CascadeGuard.withRun`, LangGraph
 *   `thread_id`); outside a run every call belongs to one default run.
 * - Per-window limits are shared by every run (and, with a shared
 *   `BudgetStore`, by every process). Windows are fixed: one opens with the
 *   first call after the previous one closed and lasts `window`.
 * - `Budget.charge(usage)` inside a call charges the innermost enclosing
 *   `withBudget`; each charge is recorded in the `Ledger` (`recordUsage`).
 * - `BudgetExceededError` is not a node failure: a breaker does not count it.
 *
 * @since 0.2.0
 */
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

import * as internal from "./internal/budget.js"
import { BudgetExceededError, BudgetStoreError } from "./internal/budgetError.js"
import type * as Ledger from "./Ledger.js"

export {
  /**
   * @since 0.2.0
   * @category errors
   */
  BudgetExceededError,
  /**
   * @since 0.2.0
   * @category errors
   */
  BudgetStoreError
}

/**
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

// ---------------------------------------------------------------------------
// options

const Amount = Schema.Number.pipe(
  Schema.finite({ message: () => "Expected a finite number" }),
  Schema.nonNegative({ message: () => "Expected a non-negative number" })
)
const Count = Schema.Number.pipe(
  Schema.int({ message: () => "Expected a non-negative integer" }),
  Schema.nonNegative({ message: () => "Expected a non-negative integer" })
)

/**
 * A positive, finite duration (`"1 minute"`, `60_000`, a `Duration`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const PositiveDuration: Schema.Schema<Duration.Duration, Duration.DurationInput> = Schema.transformOrFail(
  Schema.Unknown,
  Schema.DurationFromSelf,
  {
    strict: false,
    decode: (input, _, ast) =>
      Option.match(Duration.decodeUnknown(input), {
        onNone: () =>
          ParseResult.fail(
            new ParseResult.Type(
              ast,
              input,
              `Expected a duration such as "1 minute" or a number of milliseconds, got ${JSON.stringify(input)}`
            )
          ),
        onSome: (d) => {
          const millis = Duration.toMillis(d)
          return Duration.isFinite(d) && millis > 0
            ? ParseResult.succeed(d)
            : ParseResult.fail(new ParseResult.Type(ast, input, "Expected a positive, finite duration"))
        }
      }),
    encode: ParseResult.succeed
  }
) as any

/**
 * Limits; each one omitted is unlimited.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Limits = Schema.Struct({
  /** tokens (input + output) */
  tokens: Schema.optionalWith(Amount, { exact: true }),
  /** dollars */
  costUsd: Schema.optionalWith(Amount, { exact: true }),
  /** calls that may start */
  calls: Schema.optionalWith(Count, { exact: true })
}).annotations({ identifier: "Limits" })

/**
 * @since 0.2.0
 * @category models
 */
export interface Limits {
  readonly tokens?: number | undefined
  readonly costUsd?: number | undefined
  readonly calls?: number | undefined
}

/**
 * Limits per time window.
 *
 * @since 0.2.0
 * @category schemas
 */
export const WindowLimits = Schema.Struct({
  ...Limits.fields,
  window: PositiveDuration
}).annotations({ identifier: "WindowLimits" })

/**
 * @since 0.2.0
 * @category models
 */
export interface WindowLimits extends Limits {
  readonly window: Duration.DurationInput
}

/** runs remembered at most (least recently used forgotten first) */
const DEFAULT_MAX_RUNS = 10_000
/** a run not seen for this long is forgotten */
const DEFAULT_RUN_IDLE_TIMEOUT = Duration.hours(1)

/**
 * The decoded options of a budget.
 *
 * @since 0.2.0
 * @category models
 */
export class BudgetConfig extends Schema.Class<BudgetConfig>("BudgetConfig")({
  name: Schema.String.pipe(Schema.minLength(1, { message: () => "Expected a non-empty budget name" })),
  perRun: Schema.optionalWith(Limits, { exact: true }),
  perWindow: Schema.optionalWith(WindowLimits, { exact: true }),
  /**
   * "fail" (default): refuse with `BudgetExceededError`; "wait": wait for the
   * window to reset (run limits still fail)
   */
  onExceeded: Schema.optionalWith(Schema.Literal("fail", "wait"), { default: () => "fail" as const, exact: true }),
  /** per-run state kept for at most this many runs (default 10,000; least recently used forgotten first) */
  maxRuns: Schema.optionalWith(
    Schema.Int.pipe(Schema.greaterThanOrEqualTo(1, { message: () => "Expected an integer of at least 1" })),
    { default: () => DEFAULT_MAX_RUNS, exact: true }
  ),
  /** a run unseen for this long is forgotten (default 1 hour) */
  runIdleTimeout: Schema.optionalWith(PositiveDuration, { default: () => DEFAULT_RUN_IDLE_TIMEOUT, exact: true }),
  /**
   * What one call is expected to spend, reserved while it runs (0.2.1). Without
   * it, the largest charge seen so far; before any call has ended, one call at
   * a time.
   */
  estimate: Schema.optionalWith(
    Schema.Struct({
      tokens: Schema.optionalWith(Amount, { exact: true }),
      costUsd: Schema.optionalWith(Amount, { exact: true })
    }),
    { exact: true }
  )
}) {}

/**
 * The options of `Budget.make`.
 *
 * @since 0.2.0
 * @category models
 */
export interface BudgetOptions {
  readonly name: string
  readonly perRun?: Limits | undefined
  readonly perWindow?: WindowLimits | undefined
  readonly onExceeded?: "fail" | "wait" | undefined
  readonly maxRuns?: number | undefined
  readonly runIdleTimeout?: Duration.DurationInput | undefined
  /**
   * What one call is expected to spend. Calls in flight count for this much
   * until they end, so that concurrent calls cannot overrun a token or cost
   * limit by more than one call's spend. Default: the largest charge seen;
   * before any call has ended, one call at a time.
   */
  readonly estimate?: { readonly tokens?: number | undefined; readonly costUsd?: number | undefined } | undefined
  /** where window spend is kept (default: the `BudgetStore` service if provided, else in memory) */
  readonly store?: BudgetStore | undefined
}

const decodeConfig = Schema.decodeUnknown(BudgetConfig, { errors: "all", onExcessProperty: "error" })

const withoutUndefined = (u: unknown): unknown => {
  if (typeof u !== "object" || u === null || Array.isArray(u) || Duration.isDuration(u)) return u
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(u)) if (v !== undefined) out[k] = withoutUndefined(v)
  return out
}

/**
 * Decodes options, failing with a `ParseError` that names every bad field.
 *
 * @since 0.2.0
 * @category constructors
 */
export const decode = (
  options: Omit<BudgetOptions, "store">
): Effect.Effect<BudgetConfig, ParseResult.ParseError> => decodeConfig(withoutUndefined(options))

// ---------------------------------------------------------------------------
// store

/**
 * The answer to `takeCall`.
 *
 * @since 0.2.0
 * @category models
 */
export type CallPermit =
  | { readonly taken: true }
  | { readonly taken: false; readonly count: number; readonly retryAfterMillis: number }

/**
 * What a window holds.
 *
 * @since 0.2.0
 * @category models
 */
export interface WindowSpend {
  readonly spent: number
  /** until the window closes (a full window when none is open) */
  readonly resetAfterMillis: number
}

/**
 * Where per-window spend lives. The default keeps it in memory (one
 * process); a store on a shared database makes one budget across replicas.
 * Windows are fixed: a window of `key` opens with its first take or charge
 * after the previous one closed, and lasts `window`.
 *
 * @since 0.2.0
 * @category models
 */
export interface BudgetStore {
  /** takes one call from `key`'s window if fewer than `limit` were taken in it */
  readonly takeCall: (
    key: string,
    limit: number,
    window: Duration.Duration
  ) => Effect.Effect<CallPermit, BudgetStoreError>
  /** what was charged to `key` in its current window */
  readonly spent: (key: string, window: Duration.Duration) => Effect.Effect<WindowSpend, BudgetStoreError>
  /** adds `amount` to `key`'s current window, opening one when none is open */
  readonly add: (key: string, amount: number, window: Duration.Duration) => Effect.Effect<void, BudgetStoreError>
}

/**
 * The store a budget uses when none is given in its options.
 *
 * @since 0.2.0
 * @category tags
 */
export const BudgetStore: Context.Tag<BudgetStore, BudgetStore> = internal.BudgetStoreTag

/**
 * A store in memory: calls counted by `@effect/experimental`'s `RateLimiter`
 * (fixed window, memory store), tokens and cost in fixed windows of its own.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeStoreMemory: Effect.Effect<BudgetStore> = internal.makeStoreMemory

/**
 * @since 0.2.0
 * @category layers
 */
export const layerStoreMemory: Layer.Layer<BudgetStore> = internal.layerStoreMemory

// ---------------------------------------------------------------------------
// the budget

/**
 * What was spent.
 *
 * @since 0.2.0
 * @category models
 */
export interface Spend {
  readonly calls: number
  readonly tokens: number
  readonly costUsd: number
}

/**
 * What one call spent, for `Budget.charge`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Usage {
  /** tokens in all; default `tokensIn + tokensOut` */
  readonly tokens?: number | undefined
  readonly costUsd?: number | undefined
  readonly model?: string | undefined
  readonly tokensIn?: number | undefined
  readonly tokensOut?: number | undefined
  /** the node reported in the ledger (default: the `node` given to `withBudget`, else the budget's name) */
  readonly node?: string | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Budget {
  readonly [TypeId]: TypeId
  readonly name: string
  readonly config: BudgetConfig
  /** what the current run spent, and the current window's tokens and cost */
  readonly spent: Effect.Effect<{ readonly run: Spend; readonly window: Omit<Spend, "calls"> }>
  /** how many runs this budget holds state for (bounded by `maxRuns`, idle runs forgotten) */
  readonly trackedRuns: Effect.Effect<number>
  /** refuses (or, in "wait" mode, waits) when run `runId`'s or the window's budget is spent; takes one call */
  readonly admit: (runId: string) => Effect.Effect<void, BudgetExceededError>
  /** charges `usage` to `runId` and the window, and records it in the ledger */
  readonly charge: (runId: string, usage: Usage) => Effect.Effect<void>
}

/**
 * @since 0.2.0
 * @category guards
 */
export const isBudget: (u: unknown) => u is Budget = internal.isBudget

/**
 * Makes a budget. Bad options (a negative limit, a zero, negative or NaN
 * window...) fail with a `ParseError` naming the field.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: BudgetOptions): Effect.Effect<Budget, ParseResult.ParseError, Ledger.Ledger> => {
  const { store, ...rest } = options
  return Effect.flatMap(decode(rest), (config) => internal.make(config, store))
}

/**
 * Runs `self` under `budget`: refused with `BudgetExceededError` before it
 * runs when the budget is spent (or, in "wait" mode, after the window
 * resets); `Budget.charge` inside it charges this budget. `node` names the
 * spender in the ledger. Dual.
 *
 * @since 0.2.0
 * @category combinators
 */
export const withBudget: {
  (budget: Budget, options?: { readonly node?: string | undefined }): <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | BudgetExceededError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    budget: Budget,
    options?: { readonly node?: string | undefined }
  ): Effect.Effect<A, E | BudgetExceededError, R>
} = internal.withBudget

/**
 * Charges what a call spent to the innermost enclosing `withBudget`; outside
 * any, does nothing. Negative or non-finite amounts count as 0.
 *
 * @since 0.2.0
 * @category combinators
 */
export const charge: (usage: Usage) => Effect.Effect<void> = internal.charge
