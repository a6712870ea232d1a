/**
 * Cross-process sync through the `SharedState` seam (`../sharedState.ts`,
 * implemented by `agentarmour/pg`): a breaker publishes its own transitions in
 * the background and reads the others' at most once per `syncInterval`, so a
 * call never waits for another process's database.
 *
 * The shared row is the truth, ordered by its version (not by clocks): once
 * none of its own transitions waits to be published, a breaker takes the
 * row's state whenever the row has a version it has not taken into account
 * and a state other than its own, as a `Remote` event of the state machine.
 * Each transition it publishes carries the version it was decided on, so the
 * store's compare-and-set refuses a transition decided on a row that changed
 * meanwhile (a trip excepted), and the breaker then takes the row.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

import type { BreakerState } from "../../Ledger.js"
import type { SharedBreakerState, SharedState } from "../sharedState.js"
import * as Machine from "./machine.js"

export interface Sync {
  /** at most once per interval, in the background; `undefined` when not due (the common case) */
  readonly onCall: (now: number) => Effect.Effect<void> | undefined
  /** one read now, waited for (for `state`, so it reflects the other processes) */
  readonly beforeRead: Effect.Effect<void>
  /**
   * publishes a transition this process made, in the background; `record` (its ledger
   * write) runs only if this process's transition is the one the store kept
   */
  readonly publish: (t: Machine.Transition, s: Machine.State, record: Effect.Effect<void>) => Effect.Effect<void>
}

export const make = (
  shared: SharedState,
  name: string,
  apply: (event: Machine.Event) => Effect.Effect<void>,
  scope: Scope.Scope | undefined
): Effect.Effect<Sync> =>
  Effect.gen(function*() {
    const syncMillis = Duration.toMillis(shared.syncInterval)
    let nextSync = 0
    let syncing = false
    /** this breaker's state, as its transitions (its own and those it took) say */
    let local: BreakerState = "CLOSED"
    /** the highest version of the shared row this breaker has taken into account */
    let seen = 0
    /** its transitions being published: until they are settled, the row is not taken */
    let outstanding = 0

    const adopt = (remote: Option.Option<SharedBreakerState>): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (outstanding > 0 || Option.isNone(remote)) return Effect.void
        const r = remote.value
        const version = r.version ?? 0
        if (version <= seen) return Effect.void
        seen = version
        if (r.state === local || (r.state !== "OPEN" && r.state !== "CLOSED")) return Effect.void
        return apply({
          _tag: "Remote",
          to: r.state,
          openedAt: r.openedAt,
          retryAt: r.retryAt ?? Infinity,
          // ordered by the row's version above: whatever is taken here is newer than this breaker's state
          updatedAt: Infinity
        })
      })

    const read = shared.read(name).pipe(Effect.flatMap(adopt))

    // pushed: other processes' states as they arrive (in the breaker's Scope, else a daemon for its lifetime);
    // the local copy holds the newest row by then
    const pushed = Stream.runForEach(shared.subscribe(name), () => read)
    yield* scope === undefined ? Effect.forkDaemon(pushed) : Effect.forkIn(pushed, scope)

    return {
      onCall: (now) => {
        if (syncing || now < nextSync) return undefined
        syncing = true
        nextSync = now + syncMillis
        // a daemon: another process's database must never slow (or be interrupted with) this call
        return Effect.asVoid(Effect.forkDaemon(read.pipe(
          Effect.catchAllCause((cause) =>
            Effect.logWarning(`agentarmour: could not read the shared state of breaker "${name}"`, cause)
          ),
          Effect.ensuring(Effect.sync(() => (syncing = false)))
        )))
      },
      beforeRead: Effect.clockWith((clock) =>
        Effect.suspend(() => {
          const now = clock.unsafeCurrentTimeMillis()
          if (syncing || now < nextSync) return Effect.void
          nextSync = now + syncMillis
          return Effect.catchAllCause(read, () => Effect.void)
        })
      ),
      publish: (t, s, record) =>
        Effect.suspend(() => {
          local = t.to
          if (t.synced) return Effect.void
          outstanding++
          // in the background: another process's database must never slow this call
          return Effect.asVoid(Effect.forkDaemon(
            shared.publish({
              breaker: name,
              state: t.to,
              from: t.from,
              openedAt: Machine.openedAt(s),
              retryAt: Number.isFinite(Machine.retryAt(s)) ? Machine.retryAt(s) : null,
              updatedAt: t.at,
              origin: shared.origin,
              version: seen
            }).pipe(
              Effect.flatMap((won) => won ? record : Effect.void),
              Effect.catchAllCause((cause) =>
                Effect.logWarning(`agentarmour: could not publish the state of breaker "${name}"`, cause)
              ),
              // settled: the row (this transition, or the one that refused it) is taken
              Effect.ensuring(Effect.suspend(() => {
                outstanding--
                return Effect.catchAllCause(read, () => Effect.void)
              }))
            )
          ))
        })
    }
  })
