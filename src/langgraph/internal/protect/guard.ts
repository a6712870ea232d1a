/**
 * The guard stages (CascadeGuard): before the call, quarantined `readsFrom`
 * keys are masked; around it, a failure quarantines the keys the node
 * writes, and a success is inspected — a contaminated update never travels
 * downstream, a clean one lifts the node's quarantines.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

import type * as CascadeGuard from "../../../CascadeGuard.js"
import { describeCause } from "../../../internal/describe.js"
import * as LG from "../langgraph.js"
import { type Answer, answered, isControlFlowCause } from "./answer.js"

/** what a guarded node declared */
export interface GuardPlan<S> {
  readonly name: string
  readonly spec: CascadeGuard.NodeSpec<S>
  readonly writes: ReadonlyArray<string>
  readonly reads: ReadonlyArray<string>
}

const noKeys: ReadonlyArray<string> = []

/** `state` with its quarantined `readsFrom` keys set to `undefined`, and the keys masked */
export const masked = <S extends Record<string, any>>(
  guard: CascadeGuard.CascadeGuard | undefined,
  plan: GuardPlan<S> | undefined,
  state: S
): Effect.Effect<{ readonly state: S; readonly quarantined: ReadonlyArray<string> }> =>
  guard === undefined || plan === undefined || plan.reads.length === 0
    ? Effect.succeed({ state, quarantined: noKeys })
    : Effect.map(
      guard.mask(plan.reads, state),
      ({ masked, state }) => ({ state, quarantined: masked.map((m) => m.key) })
    )

/** the guard around an attempt: quarantine on failure, inspect the output, lift on a clean success */
export const inspected = <S, E, R>(
  guard: CascadeGuard.CascadeGuard,
  plan: GuardPlan<S>,
  attempt: Effect.Effect<unknown, E, R>
): Effect.Effect<Answer, E, R> =>
  attempt.pipe(
    Effect.tapErrorCause((cause) =>
      isControlFlowCause(cause)
        ? Effect.void
        : guard.quarantine(plan.name, plan.writes, `${plan.name} failed: ${describeCause(cause)}`)
    ),
    Effect.flatMap((output) =>
      Effect.flatMap(guard.inspect(plan.name, plan.spec, LG.updateOf(output) ?? output), (verdict) => {
        if (verdict._tag === "Clean") return Effect.as(guard.lift(plan.name), answered(output))
        // the bad values never travel downstream: drop every key the node wrote
        const bad = Array.from(new Set([...plan.writes, ...Object.keys(LG.updateOf(output) ?? {})]))
        return Effect.as(guard.quarantine(plan.name, bad, verdict.reason), answered(LG.withoutKeys(output, bad), true))
      })
    )
  )
