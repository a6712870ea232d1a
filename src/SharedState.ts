/**
 * Breaker state shared across processes: the service breakers look for, its
 * types, the engine that runs it over any store, and a store in memory. As
 * `@effect/experimental`'s `RateLimiterStore`, the core holds the seam;
 * stores live elsewhere: `agentarmour/pg` has the Postgres one
 * (`SharedState.layer`), and another store (Redis, a service of one's own)
 * needs nothing but this module.
 *
 * ```ts
 * import { SharedState } from "agentarmour"
 *
 * // tests: two "processes" on one board
 * const board = new SharedState.MemoryBoard()
 * const ProcessA = SharedState.layerMemory(board)
 * const ProcessB = SharedState.layerMemory(board)
 *
 * // another store: one statement per member (see `SharedStore`)
 * const Live = SharedState.layerStore(myStore, { publishInterval: "50 millis" })
 * ```
 *
 * Each breaker keeps deciding locally; a transition is queued and written in
 * batches (one statement per tick) with a compare-and-set on the row's
 * version, and pushed to every process. See `docs/shared-state.md`.
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import type * as Scope from "effect/Scope"

import * as internal from "./internal/sharedState.js"

/**
 * The service breakers look for (`Effect.serviceOption`): present, they share.
 *
 * @since 0.3.0
 * @category tags
 */
export const SharedState = internal.SharedState

/**
 * @since 0.3.0
 * @category models
 */
export type SharedState = internal.SharedState

/**
 * What one process tells the others about a breaker (a row of the store).
 *
 * @since 0.3.0
 * @category models
 */
export type SharedBreakerState = internal.SharedBreakerState

/**
 * @since 0.3.0
 * @category models
 */
export type SharedStateStatus = internal.SharedStateStatus

/**
 * The engine's options (every layer's): intervals, each a `Duration.DurationInput`.
 *
 * @since 0.3.0
 * @category models
 */
export type Options = internal.Options

/**
 * A store: each member is one statement (a write of a batch, a read of every
 * row) and, optionally, a push channel. The engine calls it at most once per
 * `publishInterval` for writes, whatever the number of breakers.
 *
 * @since 0.3.0
 * @category models
 */
export type SharedStore = internal.SharedStore

/**
 * A transition on its way to a store.
 *
 * @since 0.3.0
 * @category models
 */
export type Proposal = internal.Proposal

/**
 * What a store's write did: the rows it changed and the current rows of the
 * proposals it did not apply.
 *
 * @since 0.3.0
 * @category models
 */
export type WriteResult = internal.WriteResult

/**
 * A store's answer that it refuses a batch's data (retrying cannot help):
 * the engine then writes the rows one by one and keeps the refused ones local.
 *
 * @since 0.3.0
 * @category errors
 */
export const RowsRejected = internal.RowsRejected

/**
 * @since 0.3.0
 * @category errors
 */
export type RowsRejected = internal.RowsRejected

/**
 * The compare-and-set every store applies to a proposal (a store in SQL
 * writes the same rule in its statement).
 *
 * @since 0.3.0
 * @category store
 */
export const accepts: (current: SharedBreakerState | undefined, proposal: Proposal) => boolean = internal.accepts

/**
 * The row a store keeps when it accepts a proposal (its version incremented).
 *
 * @since 0.3.0
 * @category store
 */
export const applied: (current: SharedBreakerState | undefined, proposal: Proposal) => SharedBreakerState =
  internal.applied

/**
 * The payload a store pushes for a changed row on its channel.
 *
 * @since 0.3.0
 * @category store
 */
export const encodePush: (state: SharedBreakerState) => string = internal.encodePush

/**
 * An in-memory "database" for `layerMemory`: every layer built on one board
 * plays one process on one store, with pushes; `available = false`,
 * `listenable = false`, `frozen = true` and `cutListeners()` simulate outages.
 *
 * @since 0.3.0
 * @category models
 */
export const MemoryBoard = internal.MemoryBoard

/**
 * @since 0.3.0
 * @category models
 */
export type MemoryBoard = internal.MemoryBoard

/**
 * The engine over `store`, its fibers in the scope. A negative, NaN,
 * infinite or unparsable interval fails with a `ParseError` naming it.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  store: SharedStore,
  options?: Options
): Effect.Effect<SharedState, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(internal.engineOptions("SharedState.make", options), (engine) => internal.make(store, engine))

/**
 * Shared state on a store of one's own (built once per layer build: one
 * build is one process). A bad interval fails the layer with a `ParseError`
 * naming it.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerStore = <E = never, R = never>(
  store: SharedStore | Effect.Effect<SharedStore, E, R>,
  options?: Options
): Layer.Layer<SharedState, ParseResult.ParseError | E, Exclude<R, Scope.Scope>> =>
  Layer.scoped(
    SharedState,
    Effect.gen(function*() {
      const engine = yield* internal.engineOptions("SharedState.layerStore", options)
      const built = Effect.isEffect(store) ? yield* store : store
      return yield* internal.make(built, engine)
    })
  )

const boards = new WeakMap<Map<string, SharedBreakerState>, internal.MemoryBoard>()

/**
 * Shared state in memory: `board` plays the database, each layer built from
 * it plays one process (with pushes, as on Postgres). For tests and
 * single-process experiments. A plain `Map` (0.1) is wrapped in a board
 * whose rows it holds.
 *
 * An interval that is negative, NaN, infinite or unparsable makes the layer
 * die while it is built, with a `ParseError` naming the option
 * (`SharedState.layerMemory: readInterval must be a non-negative duration,
 * got -5`): a defect for a programming error, so that the layer keeps its
 * 0.1 type `Layer<SharedState>`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory = (
  board: MemoryBoard | Map<string, SharedBreakerState>,
  options?: Options
): Layer.Layer<SharedState> =>
  Layer.scoped(
    SharedState,
    Effect.suspend(() => {
      let b: internal.MemoryBoard
      if (board instanceof internal.MemoryBoard) b = board
      else {
        b = boards.get(board) ?? new internal.MemoryBoard(board)
        boards.set(board, b)
      }
      return Effect.flatMap(
        Effect.orDie(internal.engineOptions("SharedState.layerMemory", options)),
        (engine) => internal.make(b.store(), engine)
      )
    })
  )
