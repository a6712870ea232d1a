/**
 * Breakers by name, created on first use with shared defaults, so that
 * `withBreaker("research")` finds (or makes) the `research` breaker.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as SynchronizedRef from "effect/SynchronizedRef"
import type * as ParseResult from "effect/ParseResult"
import type { BreakerOptions } from "./BreakerConfig.js"
import * as BreakerConfig from "./BreakerConfig.js"
import type { BreakerMetrics, CircuitBreaker } from "./CircuitBreaker.js"
import * as internal from "./internal/circuitBreaker.js"
import * as Ledger from "./Ledger.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface BreakerRegistry {
  /** the breaker called `name`, created with the defaults (and `overrides`) on first use */
  readonly get: (name: string, overrides?: Omit<BreakerOptions, "name">) => Effect.Effect<CircuitBreaker>
  /** every breaker made so far, by name */
  readonly all: Effect.Effect<ReadonlyMap<string, CircuitBreaker>>
  /** the metrics of every breaker, by name */
  readonly snapshot: Effect.Effect<Readonly<Record<string, BreakerMetrics>>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const BreakerRegistry: Context.Tag<BreakerRegistry, BreakerRegistry> = Context.GenericTag<BreakerRegistry>(
  "agentarmour/BreakerRegistry"
)

/**
 * Builds a registry. The defaults are validated once, here: bad defaults
 * fail with a `ParseError` naming the field.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  defaults?: Omit<BreakerOptions, "name">
): Effect.Effect<BreakerRegistry, ParseResult.ParseError, Ledger.Ledger> =>
  Effect.gen(function*() {
    yield* BreakerConfig.decode({ ...defaults, name: "defaults" })
    const context = yield* Effect.context<Ledger.Ledger>()
    const breakers = yield* SynchronizedRef.make(new Map<string, CircuitBreaker>())
    const get = (name: string, overrides?: Omit<BreakerOptions, "name">) =>
      SynchronizedRef.modifyEffect(breakers, (map) => {
        const existing = map.get(name)
        if (existing !== undefined) return Effect.succeed([existing, map] as const)
        return BreakerConfig.decode({ ...defaults, ...overrides, name }).pipe(
          Effect.flatMap(internal.make),
          Effect.map((b) => [b as CircuitBreaker, new Map(map).set(name, b as CircuitBreaker)] as const)
        )
      }).pipe(
        Effect.provide(context),
        // the defaults were validated above; only `overrides` or the name can be bad
        Effect.orDieWith((e) => new Error(`BreakerRegistry.get("${name}"): ${e.message}`))
      )
    const all = Ref.get(breakers) as Effect.Effect<ReadonlyMap<string, CircuitBreaker>>
    const snapshot = Effect.flatMap(all, (map) =>
      Effect.map(
        Effect.forEach(Array.from(map.values()), (b) => b.metrics),
        (list) => Object.fromEntries(list.map((m) => [m.breakerName, m]))
      ))
    return BreakerRegistry.of({ get, all, snapshot })
  })

/**
 * A registry whose breakers use `defaults` (the Python original's defaults
 * when omitted).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  defaults?: Omit<BreakerOptions, "name">
): Layer.Layer<BreakerRegistry, ParseResult.ParseError, Ledger.Ledger> => Layer.effect(BreakerRegistry, make(defaults))
