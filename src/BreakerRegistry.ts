/**
 * Breakers by name, created on first use with shared defaults, so that
 * `withBreaker("research")` finds (or makes) the `research` breaker.
 *
 * The implementation lives in `internal/breaker/registry.ts`.
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"

import type { BreakerOptions } from "./BreakerConfig.js"
import type { BreakerRegistry } from "./internal/breaker/registry.js"
import * as internal from "./internal/breaker/registry.js"
import type * as Ledger from "./Ledger.js"

export {
  /**
   * The registry's service (its interface: `get`, `all`, `snapshot`) and its tag.
   *
   * @since 0.1.0
   * @category tags
   */
  BreakerRegistry,
  /**
   * Builds a registry. The defaults are validated once, here: bad defaults
   * fail with a `ParseError` naming the field.
   *
   * @since 0.1.0
   * @category constructors
   */
  make,
  /**
   * The breaker called `name` if the registry made it already: a plain map
   * read, what `withBreaker("name")` does on every call (docs/performance.md,
   * "registry lookup").
   *
   * @since 0.2.0
   * @category unsafe
   */
  unsafeLookup
} from "./internal/breaker/registry.js"

/**
 * A registry whose breakers use `defaults` (the Python original's defaults
 * when omitted).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  defaults?: Omit<BreakerOptions, "name">
): Layer.Layer<BreakerRegistry, ParseResult.ParseError, Ledger.Ledger> =>
  Layer.effect(internal.BreakerRegistry, internal.make(defaults))
