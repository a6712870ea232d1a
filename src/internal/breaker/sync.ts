/**
 * Cross-process sync through the `SharedState` seam (`../sharedState.ts`,
 * implemented by `agentarmour/pg`): a breaker publishes its own transitions in
 * the background and reads the others' at most once per `syncInterval`, so a
 * call never waits for another process's database. What it reads becomes a
 * `Remote` event of the state machine (newer states win there).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

import type { SharedBreakerState, SharedState } from "../sharedState.js"
import type * as Machine from "./machine.js"

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
    let lastRemote = -Infinity

    const applyRemote = (remote: Option.Option<SharedBreakerState>): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (Option.isNone(remote)) return Effect.void
        const r = remote.value
        if (r.origin === shared.origin || r.updatedAt <= lastRemote) return Effect.void
        lastRemote = r.updatedAt
        if (r.state !== "OPEN" && r.state !== "CLOSED") return Effect.void
        return apply({
          _tag: "Remote",
          to: r.state,
          openedAt: r.openedAt,
          retryAt: r.retryAt ?? Infinity,
          updatedAt: r.updatedAt
        })
      })

    const read = shared.read(name).pipe(Effect.flatMap(applyRemote))

    // pushed: other processes' states as they arrive (in the breaker's Scope, else a daemon for its lifetime)
    const pushed = Stream.runForEach(shared.subscribe(name), (r) => applyRemote(Option.some(r)))
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
        t.synced
          ? Effect.void
          // in the background: another process's database must never slow this call
          : Effect.asVoid(Effect.forkDaemon(
            shared.publish({
              breaker: name,
              state: t.to,
              from: t.from,
              openedAt: s.openedAt,
              retryAt: Number.isFinite(s.retryAt) ? s.retryAt : null,
              updatedAt: t.at,
              origin: shared.origin
            }).pipe(
              Effect.flatMap((won) => won ? record : Effect.void),
              Effect.catchAllCause((cause) =>
                Effect.logWarning(`agentarmour: could not publish the state of breaker "${name}"`, cause)
              )
            )
          ))
    }
  })
