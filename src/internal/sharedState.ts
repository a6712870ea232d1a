/**
 * The seam through which breakers of the same name in several processes
 * share their state. The core only knows this interface; `agentarmour/pg`
 * implements it on SQL (`SharedState.layer`).
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { BreakerState } from "../Ledger.js"

/** what one process tells the others about a breaker */
export interface SharedBreakerState {
  readonly breaker: string
  readonly state: BreakerState
  readonly openedAt: number
  /** when the OPEN breaker lets a probe through; `null` = until reset (forced open) */
  readonly retryAt: number | null
  /** when this state was entered (millis): newer wins */
  readonly updatedAt: number
  /** the process (store instance) that published it */
  readonly origin: string
}

export interface SharedState {
  /** this store instance, to ignore one's own publications */
  readonly origin: string
  /** how often a breaker looks at the shared state (it never waits for it) */
  readonly syncInterval: Duration.Duration
  readonly publish: (state: SharedBreakerState) => Effect.Effect<void, unknown>
  readonly read: (breaker: string) => Effect.Effect<Option.Option<SharedBreakerState>, unknown>
}

export const SharedState: Context.Tag<SharedState, SharedState> = Context.GenericTag<SharedState>(
  "agentarmour/SharedState"
)
