/**
 * The seam through which breakers of the same name in several processes
 * share their state, and the engine behind it. The core only knows this
 * interface; `agentarmour/pg` implements the store on SQL
 * (`SharedState.layer`), with pushes through Postgres `LISTEN`/`NOTIFY`.
 *
 * The engine (`make`) owns, per process:
 * - a local copy of the shared rows (`read` answers from it, no query);
 * - a dirty set: the latest unpublished state per breaker, written in one
 *   statement per tick (at most one statement per `publishInterval`), kept
 *   and re-sent while the store is unreachable;
 * - one listening stream (when the store has one), checked by heartbeats;
 *   while it is down, one query per `syncInterval` reads every row.
 * Its load on the store is bounded per process, whatever the number of breakers.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

import type { BreakerState } from "../Ledger.js"
import * as duration from "./duration.js"

/** what one process tells the others about a breaker */
export interface SharedBreakerState {
  readonly breaker: string
  readonly state: BreakerState
  readonly openedAt: number
  /** when the OPEN breaker lets a probe through; `null` = until reset (forced open) */
  readonly retryAt: number | null
  /** when this state was entered (millis); the store keeps it increasing per breaker */
  readonly updatedAt: number
  /** the process (store instance) that published it */
  readonly origin: string
  /**
   * On publish: the state the breaker left. The store applies a transition
   * only if the shared state is still `from` (or the transition opens a
   * breaker that is not open), so concurrent identical transitions in several
   * processes are written once. When absent, the state this process last knew.
   */
  readonly from?: BreakerState | undefined
  /**
   * Set by the store: this breaker's version, +1 per applied transition. On
   * publish: the version of the row the breaker's state is based on (the last
   * it took into account); when absent, the version this process last knew.
   */
  readonly version?: number | undefined
}

/** how the engine is doing, for tests, benches and operators */
export interface SharedStateStatus {
  /** pushes from the store arrive (the listening connection is up and answered its last heartbeat) */
  readonly listening: boolean
  /** the last statement succeeded */
  readonly reachable: boolean
  /** breakers whose latest local state is not in the store yet */
  readonly pending: number
  /** statements sent to the store by this process since it started */
  readonly statements: number
  /** breakers in the local copy */
  readonly known: number
  /**
   * breakers whose state cannot be shared (a name with a NUL or another control
   * character, or a row the store refused): they stay this process's own
   */
  readonly rejected: number
}

export interface SharedState {
  /** this store instance, to ignore one's own publications */
  readonly origin: string
  /**
   * how often a breaker may look at the local copy through `read` (a map
   * lookup, no query); breakers that consume `subscribe` do not need it
   */
  readonly syncInterval: Duration.Duration
  /**
   * Queues a transition for the store; never waits for the database unless
   * awaited. Succeeds with `true` when this transition became the shared state
   * (the process that made it writes it to the ledger), or was a local step
   * superseded by a later state of this process before it could be sent;
   * `false` when another process had already made it (do not write it again).
   * While the store is unreachable it waits: the state is re-sent when it returns.
   */
  readonly publish: (state: SharedBreakerState) => Effect.Effect<boolean, unknown>
  /** the latest shared state of a breaker, from the local copy (no query) */
  readonly read: (breaker: string) => Effect.Effect<Option.Option<SharedBreakerState>, unknown>
  /** the states other processes publish for this breaker, as they arrive (pushed, or polled while not listening) */
  readonly subscribe: (breaker: string) => Stream.Stream<SharedBreakerState>
  /** every state other processes publish, for any breaker */
  readonly changes: Stream.Stream<SharedBreakerState>
  readonly status: Effect.Effect<SharedStateStatus>
}

export const SharedState: Context.Tag<SharedState, SharedState> = Context.GenericTag<SharedState>(
  "agentarmour/SharedState"
)

/** a transition on its way to the store: `from` and `base` always known */
export interface Proposal extends SharedBreakerState {
  readonly from: BreakerState
  /** the version of the row this transition was decided on: the compare-and-set's expected version */
  readonly base: number
}

/** what a write did: the rows it changed (as stored), and the current rows of the proposals it did not apply */
export interface WriteResult {
  readonly changed: ReadonlyArray<SharedBreakerState>
  readonly unchanged: ReadonlyArray<SharedBreakerState>
}

/**
 * A store's answer that the data of a batch was refused (Postgres: a data
 * exception or a constraint, as for a NUL byte in a name), as opposed to a
 * store that cannot be reached: retrying the same rows would fail forever,
 * so the engine writes them one by one and keeps the refused ones local.
 */
export class RowsRejected extends Data.TaggedError("RowsRejected")<{ readonly cause: unknown }> {}

const isRejected = (e: unknown): e is RowsRejected =>
  typeof e === "object" && e !== null && (e as { readonly _tag?: unknown })._tag === "RowsRejected"

/**
 * The store: each member is one statement. The rule every store applies to
 * a proposal (`accepts`) is the compare-and-set described at `accepts`.
 */
export interface SharedStore {
  /**
   * applies a batch (one row per breaker) in one statement; returns the rows it changed, as
   * stored, and the rows it left as they were; fails with `RowsRejected` when the store
   * refused the batch's data
   */
  readonly write: (batch: ReadonlyArray<Proposal>) => Effect.Effect<WriteResult, unknown>
  /** every row, in one statement */
  readonly readAll: Effect.Effect<ReadonlyArray<SharedBreakerState>, unknown>
  /** pushes: the payloads of changed rows (`encodePush`) and heartbeats; `None` = polling only */
  readonly listen: Option.Option<{
    readonly stream: Stream.Stream<string, unknown>
    /** sends a heartbeat payload through the channel (one statement) */
    readonly ping: (payload: string) => Effect.Effect<void, unknown>
  }>
}

/**
 * The compare-and-set every store applies (the SQL store has the same rule
 * in its `ON CONFLICT ... WHERE`): a proposal changes the row when the row
 * is missing, or the state differs and either the row is still the version
 * the proposer decided on (nobody changed it since) in the state it left, or the proposal opens a
 * breaker that is not open (a trip is never lost; concurrent identical trips
 * are written once). Versions, not clocks, order the states of a breaker.
 */
export const accepts = (current: SharedBreakerState | undefined, p: Proposal): boolean =>
  current === undefined ||
  (current.state !== p.state &&
    (p.state === "OPEN" || ((current.version ?? 0) === p.base && current.state === p.from)))

/** the row a store keeps when it accepts a proposal */
export const applied = (current: SharedBreakerState | undefined, p: Proposal): SharedBreakerState => ({
  breaker: p.breaker,
  state: p.state,
  openedAt: p.openedAt,
  retryAt: p.retryAt,
  updatedAt: current === undefined || p.updatedAt > current.updatedAt ? p.updatedAt : current.updatedAt + 1,
  origin: p.origin,
  version: (current?.version ?? 0) + 1
})

/** the payload of a pushed row: short keys, far below `NOTIFY`'s 8000 bytes */
export const encodePush = (s: SharedBreakerState): string =>
  JSON.stringify({
    b: s.breaker,
    s: s.state,
    o: s.openedAt,
    r: s.retryAt,
    u: s.updatedAt,
    g: s.origin,
    v: s.version ?? 0
  })

const PING = "ping:"

/** a pushed payload: a row, a heartbeat, or noise (`undefined`) */
export const decodePush = (payload: string): SharedBreakerState | { readonly ping: string } | undefined => {
  if (payload.startsWith(PING)) return { ping: payload.slice(PING.length) }
  try {
    const j = JSON.parse(payload) as Record<string, unknown>
    if (typeof j.b !== "string" || typeof j.s !== "string" || typeof j.g !== "string") return undefined
    return {
      breaker: j.b,
      state: j.s as BreakerState,
      openedAt: Number(j.o),
      retryAt: j.r === null || j.r === undefined ? null : Number(j.r),
      updatedAt: Number(j.u),
      origin: j.g,
      version: Number(j.v)
    }
  } catch {
    return undefined
  }
}

/** names longer than this are not shared (a push must fit in one `NOTIFY`) */
export const maxNameLength = 1000

/** a name a store can hold: 1 to `maxNameLength` characters, no NUL or other C0 control character */
// eslint-disable-next-line no-control-regex
const controlCharacter = /[\u0000-\u001f]/

export const isShareableName = (name: string): boolean =>
  name.length > 0 && name.length <= maxNameLength && !controlCharacter.test(name)

/** the engine options a user gives (durations as input), shared by every store's layer */
export interface Options {
  /** while the listening connection is down, how often every row is read (one query); default 1 second */
  readonly syncInterval?: Duration.DurationInput | undefined
  /** at most one write statement per interval, batching every breaker's transitions; default 50 millis */
  readonly publishInterval?: Duration.DurationInput | undefined
  /** a quiet listening connection is checked with one heartbeat this often; default 2 seconds */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  /** a heartbeat not back within this means the listening connection is lost; default 2 seconds */
  readonly heartbeatTimeout?: Duration.DurationInput | undefined
  /** how often a breaker that polls looks at the local copy (a map lookup, no query); default 100 millis */
  readonly readInterval?: Duration.DurationInput | undefined
}

/** one engine instance: the process's identity on the store */
const newOrigin = () =>
  `${typeof process === "undefined" ? "js" : process.pid}-${Math.random().toString(36).slice(2, 10)}`

/**
 * The engine's options; a negative, NaN, infinite or unparsable interval is a
 * `ParseError` naming it (and `owner`, the layer the user called).
 */
export const engineOptions = (
  owner: string,
  options: Options | undefined
): Either.Either<EngineOptions, ParseResult.ParseError> =>
  Either.map(
    duration.decodeOptions(owner, {
      readInterval: options?.readInterval ?? "100 millis",
      syncInterval: options?.syncInterval ?? "1 second",
      publishInterval: options?.publishInterval ?? "50 millis",
      heartbeatInterval: options?.heartbeatInterval ?? "2 seconds",
      heartbeatTimeout: options?.heartbeatTimeout ?? "2 seconds"
    }),
    (d) => ({
      origin: newOrigin(),
      readInterval: d.readInterval,
      pollInterval: d.syncInterval,
      publishInterval: d.publishInterval,
      heartbeatInterval: d.heartbeatInterval,
      heartbeatTimeout: d.heartbeatTimeout,
      retryCap: Duration.seconds(2),
      maxBatch: 1000,
      statementTimeout: Duration.seconds(10)
    })
  )

export interface EngineOptions {
  readonly origin: string
  /** how often breakers may read the local copy (the seam's `syncInterval`) */
  readonly readInterval: Duration.Duration
  /** while not listening: one query of every row per interval */
  readonly pollInterval: Duration.Duration
  /** at most one write statement per interval (the first after a quiet spell goes at once) */
  readonly publishInterval: Duration.Duration
  /** a quiet listening connection is checked (one self-addressed heartbeat) this often */
  readonly heartbeatInterval: Duration.Duration
  /** a heartbeat not heard back within this means the listening connection is lost */
  readonly heartbeatTimeout: Duration.Duration
  /** the longest wait between retries of a failed write or listen */
  readonly retryCap: Duration.Duration
  /** proposals per write statement */
  readonly maxBatch: number
  /** a statement not answered within this counts as failed (a write is then re-sent) */
  readonly statementTimeout: Duration.Duration
}

/** how many refused names are remembered (past this, a refused name is tried again, and refused again) */
const maxUnshareable = 10_000

/** an error's message, for a log line (never throws, whatever was thrown) */
const describe = (cause: unknown): string => {
  try {
    if (cause instanceof Error) return cause.message
    return String(cause)
  } catch {
    return "an unprintable error"
  }
}

/** on close, how long the last attempt to send what waits may take */
export const finalFlush = Duration.seconds(2)

interface Pending {
  proposal: Proposal
  /** local transitions folded into this proposal */
  steps: number
  readonly waiters: Array<Deferred.Deferred<boolean>>
}

/** the engine over a store; its fibers live in the scope */
export const make = (store: SharedStore, options: EngineOptions): Effect.Effect<SharedState, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { origin } = options
    const publishMillis = Duration.toMillis(options.publishInterval)
    const retryCapMillis = Duration.toMillis(options.retryCap)

    // --- state owned by this engine, touched only inside Effect.sync ---
    /** the shared rows as this process last saw them */
    const mirror = new Map<string, SharedBreakerState>()
    /** the state this process last proposed or learned per breaker: the default `from` */
    const lastKnown = new Map<string, BreakerState>()
    /** the latest unsent state per breaker, with everyone waiting for its outcome */
    const dirty = new Map<string, Pending>()
    const flags = { listening: false, reachable: true, statements: 0 }
    /** breakers whose proposal is being written */
    const inFlight = new Set<string>()
    /**
     * per breaker, this process's last applied transition: the version it was decided on
     * and the version it made. A transition decided on the former (made before this
     * process heard of its own write) is based on the latter.
     */
    const lastWin = new Map<string, { readonly base: number; readonly version: number }>()
    /** breakers whose rows the store refused: never sent again */
    const unshareable = new Set<string>()
    let rejected = 0

    const wake = yield* Queue.sliding<void>(1)
    const all = yield* PubSub.sliding<SharedBreakerState>(4096)
    const perBreaker = new Map<string, PubSub.PubSub<SharedBreakerState>>()
    const topic = (breaker: string): Effect.Effect<PubSub.PubSub<SharedBreakerState>> =>
      Effect.suspend(() => {
        const existing = perBreaker.get(breaker)
        if (existing !== undefined) return Effect.succeed(existing)
        return Effect.map(PubSub.sliding<SharedBreakerState>(64), (created) => {
          const raced = perBreaker.get(breaker)
          if (raced !== undefined) return raced
          perBreaker.set(breaker, created)
          return created
        })
      })

    /**
     * One statement: counted, and bounded by `statementTimeout` (a frozen server or a
     * half-open connection must not hold the writer or the poller forever).
     */
    const counted = <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E | "statement timeout"> =>
      Effect.zipRight(Effect.sync(() => flags.statements++), self).pipe(
        Effect.timeoutFail({ duration: options.statementTimeout, onTimeout: () => "statement timeout" as const }),
        Effect.tap(() => Effect.sync(() => (flags.reachable = true))),
        Effect.tapErrorCause(() => Effect.sync(() => (flags.reachable = false)))
      )

    /** takes newer rows into the local copy; others' rows go to subscribers */
    const absorb = (rows: ReadonlyArray<SharedBreakerState>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const fresh: Array<SharedBreakerState> = []
        for (const row of rows) {
          const known = mirror.get(row.breaker)
          if (known !== undefined && (known.version ?? 0) >= (row.version ?? 0)) continue
          mirror.set(row.breaker, row)
          lastKnown.set(row.breaker, row.state)
          if (row.origin !== origin) fresh.push(row)
        }
        if (fresh.length === 0) return Effect.void
        return Effect.forEach(fresh, (row) => {
          const p = perBreaker.get(row.breaker)
          return Effect.zipRight(PubSub.publish(all, row), p === undefined ? Effect.void : PubSub.publish(p, row))
        }, { discard: true })
      })

    const resolve = (waiters: ReadonlyArray<Deferred.Deferred<boolean>>, value: boolean) =>
      Effect.forEach(waiters, (d) => Deferred.succeed(d, value), { discard: true })

    /** puts unsent entries back, under any newer state published meanwhile (keeping the older `from`) */
    const requeue = (entries: ReadonlyArray<Pending>) =>
      Effect.sync(() => {
        for (const e of entries) {
          const newer = dirty.get(e.proposal.breaker)
          if (newer === undefined) dirty.set(e.proposal.breaker, e)
          else {
            newer.proposal = { ...newer.proposal, from: e.proposal.from, base: e.proposal.base }
            newer.steps += e.steps
            newer.waiters.unshift(...e.waiters)
          }
        }
      })

    const takeBatch = Effect.sync(() => {
      const batch: Array<Pending> = []
      for (const [name, entry] of dirty) {
        if (batch.length >= options.maxBatch) break
        dirty.delete(name)
        batch.push(entry)
      }
      return batch
    })

    /** takes the rows a write returned, and tells each proposal's waiters whether it became the shared state */
    const settle = (entries: ReadonlyArray<Pending>, result: WriteResult) =>
      Effect.gen(function*() {
        const won = new Map(result.changed.map((r) => [r.breaker, r]))
        yield* absorb([...result.changed, ...result.unchanged])
        // not applied, yet the row is this very proposal: an earlier attempt committed but its reply was lost
        const ours = (p: Proposal) => {
          const row = mirror.get(p.breaker)
          return row !== undefined && row.origin === origin && row.state === p.state && row.updatedAt >= p.updatedAt
        }
        yield* Effect.forEach(entries, (e) => {
          const row = won.get(e.proposal.breaker)
          if (row !== undefined) lastWin.set(e.proposal.breaker, { base: e.proposal.base, version: row.version ?? 0 })
          return resolve(e.waiters, row !== undefined || ours(e.proposal))
        }, { discard: true })
      })

    /** a transition decided before this process heard of its own previous write is based on that write */
    const rebase = (p: Proposal): Proposal => {
      const win = lastWin.get(p.breaker)
      return win !== undefined && win.base === p.base && win.version > p.base ? { ...p, base: win.version } : p
    }

    /** one statement for `entries`; on any failure but `RowsRejected` they are queued again */
    const writeEntries = (entries: ReadonlyArray<Pending>) =>
      counted(store.write(entries.map((e) => e.proposal))).pipe(
        Effect.tapError((e) => isRejected(e) ? Effect.void : requeue(entries)),
        Effect.onInterrupt(() => requeue(entries)),
        Effect.flatMap((rows) => settle(entries, rows))
      )

    /**
     * A breaker whose row the store refused stays this process's own: its waiters
     * resolve `true` (it records its transitions itself) and its later states are not sent.
     */
    const keepLocal = (entry: Pending, why: string) =>
      Effect.gen(function*() {
        flags.reachable = true
        if (unshareable.size < maxUnshareable) unshareable.add(entry.proposal.breaker)
        rejected++
        yield* Effect.logWarning(
          `agentarmour: the shared state of breaker ${
            JSON.stringify(entry.proposal.breaker)
          } cannot be shared (${why}); it stays this process's own`
        )
        yield* resolve(entry.waiters, true)
      })

    /** a refused batch: each row alone, so that one bad row does not hold the others */
    const writeOneByOne = (entries: ReadonlyArray<Pending>) =>
      Effect.forEach(entries, (entry, i) =>
        writeEntries([entry]).pipe(
          Effect.catchIf(isRejected, (e) => keepLocal(entry, describe(e.cause))),
          // the store went away meanwhile: the rest waits for the next attempt
          Effect.tapError(() => requeue(entries.slice(i + 1))),
          Effect.onInterrupt(() => requeue(entries.slice(i + 1)))
        ), { discard: true })

    /** one write of up to `maxBatch` breakers; fails when the store does */
    const flushOnce = Effect.gen(function*() {
      const batch = yield* takeBatch
      // a proposal that ends where it started changes nothing shared: several steps
      // (CLOSED -> OPEN -> ... -> CLOSED while unsent) were this process's alone; one step
      // into the state this process already knew is another process's transition, heard of
      const noops = batch.filter((e) => e.proposal.from === e.proposal.state)
      const sent = batch.filter((e) => e.proposal.from !== e.proposal.state)
      yield* Effect.forEach(noops, (e) => resolve(e.waiters, e.steps > 1), { discard: true })
      if (sent.length === 0) return
      for (const e of sent) {
        inFlight.add(e.proposal.breaker)
        e.proposal = rebase(e.proposal)
      }
      yield* writeEntries(sent).pipe(
        Effect.catchIf(
          isRejected,
          (e) => sent.length === 1 ? keepLocal(sent[0]!, describe(e.cause)) : writeOneByOne(sent)
        ),
        Effect.ensuring(Effect.sync(() => inFlight.clear()))
      )
    })

    const flushLoop = Effect.gen(function*() {
      let lastWrite = -Infinity
      let failures = 0
      while (true) {
        yield* Queue.take(wake)
        const now = yield* Clock.currentTimeMillis
        const wait = lastWrite + publishMillis - now
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        if (dirty.size === 0) continue
        lastWrite = yield* Clock.currentTimeMillis
        const ok = yield* Effect.isSuccess(flushOnce)
        if (ok) {
          failures = 0
        } else {
          if (failures === 0) {
            yield* Effect.logWarning(
              "agentarmour: the shared breaker state is unreachable; states are kept and re-sent"
            )
          }
          failures++
          yield* Effect.sleep(Duration.millis(Math.min(retryCapMillis, 50 * 2 ** Math.min(failures, 16))))
        }
        if (dirty.size > 0) yield* Queue.offer(wake, undefined)
      }
    })

    const pollOnce = counted(store.readAll).pipe(
      Effect.flatMap(absorb),
      Effect.zipRight(Effect.suspend(() => dirty.size > 0 ? Queue.offer(wake, undefined) : Effect.void))
    )

    /** while not listening, every row in one query per `pollInterval` */
    const pollLoop = Effect.forever(
      Effect.zipRight(
        Effect.suspend(() => flags.listening ? Effect.void : Effect.ignore(pollOnce)),
        Effect.sleep(options.pollInterval)
      )
    )

    const listenLoop = (listen: Option.Option.Value<SharedStore["listen"]>) => {
      let pingCount = 0
      let heard = false
      let awaited: { readonly n: number; readonly done: Deferred.Deferred<void> } | undefined
      const onPayload = (payload: string): Effect.Effect<void> => {
        heard = true
        const decoded = decodePush(payload)
        if (decoded === undefined) return Effect.void
        if ("ping" in decoded) {
          const w = awaited
          if (w !== undefined && decoded.ping === `${origin}:${w.n}`) return Deferred.succeed(w.done, undefined)
          return Effect.void
        }
        return absorb([decoded])
      }
      /**
       * Sends a heartbeat to itself and waits for it to come back through the
       * channel, sending it again every 250 ms (a new channel may not listen yet).
       */
      const heartbeat = Effect.gen(function*() {
        const n = ++pingCount
        const done = yield* Deferred.make<void>()
        awaited = { n, done }
        yield* Effect.zipRight(
          counted(listen.ping(`${PING}${origin}:${n}`)),
          Effect.timeoutOption(Deferred.await(done), "250 millis")
        ).pipe(
          Effect.repeat({ until: Option.isSome }),
          Effect.timeoutFail({ duration: options.heartbeatTimeout, onTimeout: () => "no heartbeat" as const })
        )
      })
      const session = Effect.scoped(Effect.gen(function*() {
        const receiving = yield* listen.stream.pipe(
          Stream.runForEach(onPayload),
          Effect.zipRight(Effect.fail("listening stopped" as const)),
          Effect.forkScoped
        )
        yield* Effect.yieldNow()
        const live = Effect.gen(function*() {
          // once a heartbeat comes back the channel is live: read what was missed, send what waits
          yield* heartbeat
          yield* pollOnce
          flags.listening = true
          yield* Queue.offer(wake, undefined)
          // then a quiet channel is checked every heartbeatInterval
          while (true) {
            heard = false
            yield* Effect.sleep(options.heartbeatInterval)
            if (!heard) yield* heartbeat
          }
        })
        // not listening from the moment the channel fails, before the session's
        // scope closes (closing a dead connection may wait): polling takes over at once
        yield* Effect.raceFirst(Fiber.join(receiving), live).pipe(
          Effect.ensuring(Effect.sync(() => (flags.listening = false)))
        )
      }))
      return Effect.gen(function*() {
        let failures = 0
        while (true) {
          const started = yield* Clock.currentTimeMillis
          yield* Effect.exit(session)
          const lasted = (yield* Clock.currentTimeMillis) - started
          failures = lasted > retryCapMillis ? 1 : failures + 1
          yield* Effect.sleep(Duration.millis(Math.min(retryCapMillis, 50 * 2 ** Math.min(failures, 16))))
        }
      })
    }

    yield* Effect.forkScoped(flushLoop)
    yield* Effect.forkScoped(pollLoop)
    if (Option.isSome(store.listen)) yield* Effect.forkScoped(listenLoop(store.listen.value))

    // on close: one last attempt to send what waits; whoever still waits learns it was not shared
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (dirty.size > 0) {
          yield* flushOnce.pipe(Effect.timeout(finalFlush), Effect.ignore)
        }
        const left = [...dirty.values()]
        dirty.clear()
        yield* Effect.forEach(left, (e) => resolve(e.waiters, false), { discard: true })
      })
    )

    const publish = (state: SharedBreakerState): Effect.Effect<boolean> =>
      Effect.gen(function*() {
        if (unshareable.has(state.breaker)) return true
        if (!isShareableName(state.breaker)) {
          // never sent: a store could not hold it (and would refuse the batch it is in)
          if (unshareable.size < maxUnshareable) unshareable.add(state.breaker)
          rejected++
          yield* Effect.logWarning(
            `agentarmour: breaker ${JSON.stringify(state.breaker)} is not shared: a shared name has 1 to ` +
              `${maxNameLength} characters and no control character`
          )
          return true
        }
        const done = yield* Deferred.make<boolean>()
        yield* Effect.sync(() => {
          const from = state.from ?? lastKnown.get(state.breaker) ?? "CLOSED"
          const base = state.version ?? mirror.get(state.breaker)?.version ?? 0
          lastKnown.set(state.breaker, state.state)
          const proposal: Proposal = { ...state, origin, from, base, version: undefined }
          const pending = dirty.get(state.breaker)
          if (pending === undefined) dirty.set(state.breaker, { proposal, steps: 1, waiters: [done] })
          else {
            pending.proposal = { ...proposal, from: pending.proposal.from, base: pending.proposal.base }
            pending.steps++
            pending.waiters.push(done)
          }
        })
        yield* Queue.offer(wake, undefined)
        return yield* Deferred.await(done)
      })

    return {
      origin,
      syncInterval: options.readInterval,
      publish,
      read: (breaker) => Effect.sync(() => Option.fromNullable(mirror.get(breaker))),
      subscribe: (breaker) => Stream.unwrap(Effect.map(topic(breaker), (p) => Stream.fromPubSub(p))),
      changes: Stream.fromPubSub(all),
      status: Effect.sync(() => ({
        listening: flags.listening,
        reachable: flags.reachable,
        pending: dirty.size + [...inFlight].filter((b) => !dirty.has(b)).length,
        statements: flags.statements,
        known: mirror.size,
        rejected
      }))
    } satisfies SharedState
  })

/**
 * A store in memory, playing the database for tests: layers built on one
 * board play processes on one Postgres, with pushes.
 */
export class MemoryBoard {
  constructor(readonly rows: Map<string, SharedBreakerState> = new Map()) {}
  /** false: every statement fails, as with the database down */
  available = true
  /** false: listening connections cannot be opened (statements still work) */
  listenable = true
  /** true: statements never answer, as with a frozen server */
  frozen = false
  /** when set, a write holding a proposal it matches is refused whole (`RowsRejected`), as Postgres refuses a batch */
  refuses: ((proposal: Proposal) => boolean) | undefined = undefined
  /** statements received, from every process */
  statements = 0
  /** write statements received, from every process */
  writes = 0
  /** reads of every row received, from every process */
  reads = 0
  private readonly listeners = new Set<(payload: string | undefined) => void>()

  /** ends every listening stream, as if their connections were cut */
  cutListeners(): void {
    for (const l of this.listeners) l(undefined)
    this.listeners.clear()
  }

  /** a store for one process */
  store(): SharedStore {
    const statement = <A>(f: () => A): Effect.Effect<A, Error> =>
      Effect.suspend(() => {
        this.statements++
        if (this.frozen) return Effect.never
        return this.available ? Effect.sync(f) : Effect.fail(new Error("the board is unavailable"))
      })
    const push = (payload: string) => {
      for (const l of this.listeners) l(payload)
    }
    return {
      write: (batch) =>
        Effect.flatMap(
          statement(() => {
            this.writes++
            const refused = batch.find((p) => this.refuses?.(p) === true)
            if (refused !== undefined) return new RowsRejected({ cause: new Error(`refused ${refused.breaker}`) })
            const changed: Array<SharedBreakerState> = []
            const unchanged: Array<SharedBreakerState> = []
            for (const p of batch) {
              const current = this.rows.get(p.breaker)
              if (!accepts(current, p)) {
                if (current !== undefined) unchanged.push(current)
                continue
              }
              const row = applied(current, p)
              this.rows.set(p.breaker, row)
              changed.push(row)
            }
            for (const row of changed) push(encodePush(row))
            return { changed, unchanged }
          }),
          (result) => result instanceof RowsRejected ? Effect.fail(result) : Effect.succeed(result)
        ),
      readAll: statement(() => {
        this.reads++
        return [...this.rows.values()]
      }),
      listen: Option.some({
        stream: Stream.async<string, Error>((emit) => {
          if (!this.available || !this.listenable) {
            void emit.fail(new Error("cannot listen"))
            return
          }
          const listener = (payload: string | undefined) => {
            if (payload === undefined) void emit.fail(new Error("listening connection lost"))
            else void emit.single(payload)
          }
          this.listeners.add(listener)
          return Effect.sync(() => this.listeners.delete(listener))
        }),
        ping: (payload) => statement(() => push(payload))
      })
    }
  }
}
