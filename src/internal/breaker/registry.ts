/**
 * Breakers by name (`BreakerRegistry`), created on first use with shared
 * defaults. Public through `BreakerRegistry.ts`; here so that
 * `CircuitBreaker.ts` (`withBreaker("name")`) finds the registry without
 * importing another public module.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"

import type { BreakerMetrics, CircuitBreaker } from "../../CircuitBreaker.js"
import type * as Ledger from "../../Ledger.js"
import * as internal from "../circuitBreaker.js"
import * as BreakerConfig from "./config.js"

export interface BreakerRegistry {
  /** the breaker called `name`, created with the defaults (and `overrides`) on first use */
  readonly get: (name: string, overrides?: Omit<BreakerConfig.BreakerOptions, "name">) => Effect.Effect<CircuitBreaker>
  /** every breaker made so far, by name */
  readonly all: Effect.Effect<ReadonlyMap<string, CircuitBreaker>>
  /** the metrics of every breaker, by name */
  readonly snapshot: Effect.Effect<Readonly<Record<string, BreakerMetrics>>>
}

export const BreakerRegistry: Context.Tag<BreakerRegistry, BreakerRegistry> = Context.GenericTag<BreakerRegistry>(
  "agentarmour/BreakerRegistry"
)

const MapKey: unique symbol = Symbol.for("agentarmour/BreakerRegistry/map")

interface RegistryImpl extends BreakerRegistry {
  readonly [MapKey]: Map<string, CircuitBreaker>
}

/**
 * The breaker called `name` if the registry made it already: a plain map
 * read, what `withBreaker("name")` does on every call (docs/performance.md,
 * "registry lookup").
 */
export const unsafeLookup = (registry: BreakerRegistry, name: string): CircuitBreaker | undefined =>
  MapKey in registry ? (registry as RegistryImpl)[MapKey].get(name) : undefined

/**
 * Builds a registry. The defaults are validated once, here: bad defaults
 * fail with a `ParseError` naming the field.
 */
export const make = (
  defaults?: Omit<BreakerConfig.BreakerOptions, "name">
): Effect.Effect<BreakerRegistry, ParseResult.ParseError, Ledger.Ledger> =>
  Effect.gen(function*() {
    const decoded = yield* BreakerConfig.decode({ ...defaults, name: "defaults" })
    const context = yield* Effect.context<Ledger.Ledger>()
    /** the breakers; written only in `Effect.sync`, each name once (the first made wins) */
    const breakers = new Map<string, CircuitBreaker>()
    const configFor = (name: string, overrides?: Omit<BreakerConfig.BreakerOptions, "name">) =>
      overrides === undefined || Object.keys(overrides).length === 0
        // the defaults were decoded above: only the name is new (decoding again per breaker is what made
        // 10,000 breakers slow)
        ? BreakerConfig.isBreakerName(name)
          ? Effect.succeed(new BreakerConfig.BreakerConfig({ ...decoded, name }, { disableValidation: true }))
          : BreakerConfig.decode({ ...defaults, name })
        : BreakerConfig.decode({ ...defaults, ...overrides, name })
    const get = (name: string, overrides?: Omit<BreakerConfig.BreakerOptions, "name">) =>
      Effect.suspend(() => {
        const existing = breakers.get(name)
        if (existing !== undefined) return Effect.succeed(existing)
        return configFor(name, overrides).pipe(
          Effect.flatMap(internal.make),
          Effect.provide(context),
          Effect.map((made) => {
            const raced = breakers.get(name)
            if (raced !== undefined) return raced
            breakers.set(name, made)
            return made
          }),
          // the defaults were validated above; only `overrides` or the name can be bad
          Effect.orDieWith((e) => new Error(`BreakerRegistry.get(${JSON.stringify(name)}): ${e.message}`))
        )
      })
    const all = Effect.sync((): ReadonlyMap<string, CircuitBreaker> => new Map(breakers))
    const snapshot = Effect.flatMap(all, (map) =>
      Effect.map(
        Effect.forEach(Array.from(map.values()), (b) => b.metrics),
        (list) => Object.fromEntries(list.map((m) => [m.breakerName, m]))
      ))
    const registry: RegistryImpl = { [MapKey]: breakers, get, all, snapshot }
    return registry
  })
