/**
 * The four fallback strategies of the Python original — cache, degrade,
 * escalate, decompose — as typed error-recovery combinators placed after
 * `withBreaker`:
 *
 * ```ts
 * node.pipe(
 *   withBreaker(breaker),
 *   Fallback.cache(store, { key: "research" }),   // the last good answer, if young enough
 *   Fallback.degrade(() => cheaperAgent(query))   // otherwise the backup agent
 * )
 * ```
 *
 * Each handles `CircuitOpenError`, `CallTimeoutError` and the node's own
 * failures; `{ only: ["CircuitOpenError", ...] }` narrows that, and the type
 * of the result shows what is left in the error channel. Defects,
 * interruption and LangGraph control flow are never handled.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

import { breakerOfFailure, isControlFlow } from "./internal/circuitBreaker.js"
import { describe, prettyCause } from "./internal/describe.js"
import * as duration from "./internal/duration.js"
import * as Ledger from "./Ledger.js"
import * as Telemetry from "./Telemetry.js"

/**
 * What a fallback handler learns about the failure it replaces.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailureContext {
  /** the breaker the failure passed through (from the error, the `breaker` option, or "unknown") */
  readonly breaker: string
  readonly cause: Cause.Cause<unknown>
  /** `Cause.pretty(cause)`: the original error with its stack, naming the function that failed */
  readonly traceback: string
}

/**
 * Which strategy answered, reported to `onServed` (the LangGraph adapter
 * uses it for its `__cascadebreaker_fallback__` marker).
 *
 * @since 0.1.0
 * @category models
 */
export interface Served {
  readonly strategy: "cache" | "degrade" | "escalate" | "decompose"
  readonly breaker: string
  readonly context: FailureContext
  /** the `confidence` option of `degrade` */
  readonly confidence?: number | undefined
}

/**
 * Options shared by every strategy.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<K extends string> {
  /** handle only failures with these `_tag`s (default: every failure) */
  readonly only?: ReadonlyArray<K> | undefined
  /** the breaker name to report when the failure does not carry one */
  readonly breaker?: string | undefined
  /** called after the strategy answered */
  readonly onServed?: ((served: Served) => Effect.Effect<void>) | undefined
}

/**
 * What is left of `E` after a strategy handled the tags `K` (everything when
 * no `only` was given).
 *
 * @since 0.1.0
 * @category models
 */
export type Remaining<E, K extends string> = [K] extends [never] ? never : Exclude<E, { readonly _tag: K }>

/**
 * The notifier of `escalate` answered nothing (or did not answer in time):
 * the failure stays a failure, for an outer handler to act on.
 *
 * @since 0.1.0
 * @category errors
 */
export class EscalatedError extends Schema.TaggedError<EscalatedError>()("EscalatedError", {
  breaker: Schema.String,
  message: Schema.String,
  traceback: Schema.String
}) {}

/**
 * A piece of a decomposed task failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecomposeError extends Schema.TaggedError<DecomposeError>()("DecomposeError", {
  breaker: Schema.String,
  /** index of the failed piece in the list `split` returned */
  piece: Schema.Number,
  message: Schema.String,
  error: Schema.Unknown
}) {}

/**
 * Fallbacks served, by breaker and strategy: `agentarmour_fallbacks_total{breaker,strategy}`
 * (the same metric as `Telemetry.fallbacks`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const fallbacksServed: Metric.Metric.Counter<number> = Telemetry.fallbacks

/** `f()`, or `fallback` when reading a hostile value throws (a getter, a Proxy trap) */
const safely = <A>(f: () => A, fallback: A): A => {
  try {
    return f()
  } catch {
    return fallback
  }
}

const tagOf = (error: unknown): string | undefined =>
  safely(() => {
    if (typeof error !== "object" || error === null) return undefined
    const tag = (error as { _tag?: unknown })._tag
    return typeof tag === "string" ? tag : undefined
  }, undefined)

const breakerOf = (error: unknown, fallback: string | undefined): string =>
  safely(() => breakerOfUnsafe(error, fallback), fallback ?? "unknown")

const breakerOfUnsafe = (error: unknown, fallback: string | undefined): string => {
  if (typeof error === "object" && error !== null) {
    const b = (error as { breaker?: unknown }).breaker
    if (typeof b === "string") return b
  }
  return breakerOfFailure(error) ?? fallback ?? "unknown"
}

/**
 * The core of every strategy: runs `handler` for the failures it handles,
 * re-raises everything else unchanged.
 */
const recover = <A, E, R, K extends string, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  options: Options<K> | undefined,
  handler: (ctx: FailureContext, error: E) => Effect.Effect<A2, E2, R2>
): Effect.Effect<A | A2, Remaining<E, K> | E2, R | R2> =>
  Effect.catchAllCause(self, (cause): Effect.Effect<A2, any, R2> => {
    const failure = Cause.failureOption(cause)
    if (Option.isNone(failure) || safely(() => isControlFlow(failure.value), false)) return Effect.failCause(cause)
    const only = options?.only
    if (only !== undefined) {
      const tag = tagOf(failure.value)
      if (tag === undefined || !only.includes(tag as K)) return Effect.failCause(cause)
    }
    const ctx: FailureContext = {
      breaker: breakerOf(failure.value, options?.breaker),
      cause,
      traceback: prettyCause(cause)
    }
    return handler(ctx, failure.value)
  }) as any

/** records that a strategy answered: ledger (when present), metric, `onServed` */
const served = (
  strategy: Served["strategy"],
  ctx: FailureContext,
  options: Options<string> | undefined,
  confidence?: number
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const ledger = yield* Effect.serviceOption(Ledger.Ledger)
    if (Option.isSome(ledger)) {
      const now = yield* Clock.currentTimeMillis
      yield* Effect.catchAllCause(
        ledger.value.recordFallback(
          new Ledger.FallbackRecord({ breakerName: ctx.breaker, strategy, createdAt: new Date(now) })
        ),
        () => Effect.void
      )
    }
    yield* Metric.increment(Metric.taggedWithLabels(fallbacksServed, [
      MetricLabel.make("breaker", ctx.breaker),
      MetricLabel.make("strategy", strategy)
    ]))
    if (options?.onServed !== undefined) {
      yield* options.onServed({ strategy, breaker: ctx.breaker, context: ctx, confidence })
    }
  })

/**
 * Records that `strategy` answered for the failure in `ctx` (ledger, the
 * `agentarmour_fallbacks_total` metric, `onServed`), for a strategy that
 * answers outside these combinators: the LangGraph adapter's escalation by
 * `interrupt()`, recorded when the graph pauses, before the human answers.
 *
 * @since 0.2.0
 * @category utils
 */
export const recordServed = (
  strategy: Served["strategy"],
  ctx: FailureContext,
  options?: Options<string>
): Effect.Effect<void> => served(strategy, ctx, options)

// ---------------------------------------------------------------------------
// cache

/**
 * A bounded store of last good answers (least recently used evicted first),
 * with ages from `Clock`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CacheStore<A> {
  readonly maxAge: Duration.Duration
  readonly capacity: number
  /** the value stored under `key` if it is younger than `maxAge` */
  readonly get: (key: string) => Effect.Effect<Option.Option<A>>
  readonly set: (key: string, value: A) => Effect.Effect<void>
  readonly size: Effect.Effect<number>
}

/**
 * Makes a cache store. `capacity` defaults to 1000 entries. `maxAge: 0`
 * serves a value only within the millisecond it was stored.
 *
 * A `maxAge` that is negative, NaN, infinite or unparsable is a programming
 * error: the effect dies with a `ParseError` whose message names the option
 * (`Fallback.makeCache: maxAge must be a non-negative duration, got -1`). It
 * is a defect, not a failure, because the contract types `makeCache` as
 * `Effect<CacheStore<A>>`, without an error channel.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCache = <A>(options: {
  readonly maxAge: Duration.DurationInput
  readonly capacity?: number | undefined
}): Effect.Effect<CacheStore<A>> =>
  Effect.suspend(() => {
    const decoded = duration.decodeOptions("Fallback.makeCache", { maxAge: options.maxAge })
    if (Either.isLeft(decoded)) return Effect.die(decoded.left)
    const { maxAge } = decoded.right
    const maxAgeMillis = Duration.toMillis(maxAge)
    const capacity = Math.max(1, Math.floor(options.capacity ?? 1000))
    // a Map iterates in insertion order: re-inserting on use keeps the least recently used first
    const entries = new Map<string, { readonly value: A; readonly at: number }>()
    return Effect.succeed<CacheStore<A>>({
      maxAge,
      capacity,
      // one Effect step each: the clock is read in `clockWith` (a store is on every protected call's path)
      get: (key) =>
        Effect.clockWith((clock) => {
          const now = clock.unsafeCurrentTimeMillis()
          const entry = entries.get(key)
          if (entry === undefined) return Effect.succeedNone
          entries.delete(key)
          if (now - entry.at > maxAgeMillis) return Effect.succeedNone
          entries.set(key, entry)
          return Effect.succeedSome(entry.value)
        }),
      set: (key, value) =>
        Effect.clockWith((clock) => {
          const now = clock.unsafeCurrentTimeMillis()
          entries.delete(key)
          entries.set(key, { value, at: now })
          if (entries.size > capacity) entries.delete(entries.keys().next().value!)
          return Effect.void
        }),
      size: Effect.sync(() => entries.size)
    })
  })

/**
 * Stores every success under `key`; on a handled failure answers with the
 * stored value if it is younger than the store's `maxAge`, otherwise keeps
 * the original failure (so the error channel is unchanged).
 *
 * @since 0.1.0
 * @category strategies
 */
export const cache = <A, const K extends string = never>(
  store: CacheStore<A>,
  options: Options<K> & { readonly key: string }
) =>
<E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  recover(
    Effect.tap(self, (a) => store.set(options.key, a)),
    options,
    (ctx) =>
      Effect.flatMap(store.get(options.key), (hit) =>
        Option.isSome(hit)
          ? Effect.as(served("cache", ctx, options), hit.value)
          : Effect.failCause(ctx.cause as Cause.Cause<E>))
  ) as Effect.Effect<A, E, R>

// ---------------------------------------------------------------------------
// degrade

/**
 * Answers a handled failure with a backup (a cheaper agent, a simpler
 * model). The backup's own failures are typed `E2`. `confidence` is passed
 * to `onServed` for the LangGraph layer.
 *
 * @since 0.1.0
 * @category strategies
 */
export const degrade = <A2, E2, R2, const K extends string = never>(
  backup: (ctx: FailureContext) => Effect.Effect<A2, E2, R2>,
  options?: Options<K> & { readonly confidence?: number | undefined }
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | A2, Remaining<E, K> | E2, R | R2> =>
  recover(self, options, (ctx) => Effect.tap(backup(ctx), () => served("degrade", ctx, options, options?.confidence)))

// ---------------------------------------------------------------------------
// escalate

/**
 * Hands a handled failure to a human or an on-call system. The notifier
 * answers `Option.some(value)` to answer for the node, or `Option.none()` to
 * fail with `EscalatedError`. A notifier that hangs longer than `timeout`
 * (default 30 s) is interrupted and counts as `none`.
 *
 * A `timeout` that is negative, NaN, infinite or unparsable is a programming
 * error: the protected effect dies, every time it runs, with a `ParseError`
 * whose message names the option (`Fallback.escalate: timeout must be a
 * non-negative duration, got -1`). It is a defect, not a typed failure, so
 * that the error channel of every escalated effect does not carry a
 * `ParseError` no call can cause.
 *
 * @since 0.1.0
 * @category strategies
 */
export const escalate = <A2, E2, R2, const K extends string = never>(
  notify: (ctx: FailureContext) => Effect.Effect<Option.Option<A2>, E2, R2>,
  options?: Options<K> & { readonly timeout?: Duration.DurationInput | undefined }
) => {
  const decoded = duration.decodeOptions("Fallback.escalate", { timeout: options?.timeout ?? "30 seconds" })
  if (Either.isLeft(decoded)) {
    const defect = decoded.left
    return <A, E, R>(
      _self: Effect.Effect<A, E, R>
    ): Effect.Effect<A | A2, Remaining<E, K> | E2 | EscalatedError, R | R2> => Effect.die(defect)
  }
  const { timeout } = decoded.right
  return <A, E, R>(
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A | A2, Remaining<E, K> | E2 | EscalatedError, R | R2> =>
    recover(self, options, (ctx) =>
      notify(ctx).pipe(
        Effect.timeoutOption(timeout),
        Effect.flatMap((answer) => {
          if (Option.isSome(answer) && Option.isSome(answer.value)) {
            return Effect.as(served("escalate", ctx, options), answer.value.value)
          }
          const message = Option.isNone(answer)
            ? `escalation for breaker "${ctx.breaker}" got no answer within ${Duration.format(timeout)}`
            : `escalation for breaker "${ctx.breaker}" was acknowledged without an answer`
          return Effect.fail(new EscalatedError({ breaker: ctx.breaker, message, traceback: ctx.traceback }))
        })
      ))
}

// ---------------------------------------------------------------------------
// decompose

/**
 * Splits the failed task into pieces, runs them with bounded concurrency
 * (default 4) and merges the results. A failed piece fails the whole with
 * `DecomposeError`, which says which piece.
 *
 * @since 0.1.0
 * @category strategies
 */
export const decompose = <S, B, A2, E1, R1, E2, R2, const K extends string = never>(
  split: (ctx: FailureContext) => Effect.Effect<ReadonlyArray<S>, E1, R1>,
  run: (piece: S, index: number) => Effect.Effect<B, E2, R2>,
  merge: (results: ReadonlyArray<B>) => A2,
  options?: Options<K> & { readonly concurrency?: number | undefined }
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | A2, Remaining<E, K> | E1 | DecomposeError, R | R1 | R2> =>
  recover(self, options, (ctx) =>
    split(ctx).pipe(
      Effect.flatMap((pieces) =>
        Effect.forEach(
          pieces,
          (piece, index) =>
            Effect.mapError(run(piece, index), (error) =>
              new DecomposeError({
                breaker: ctx.breaker,
                piece: index,
                message: `piece ${index} of ${pieces.length} failed: ${describe(error)}`,
                error
              })),
          { concurrency: options?.concurrency ?? 4 }
        )
      ),
      Effect.map(merge),
      Effect.tap(() => served("decompose", ctx, options))
    ))
