/**
 * The fallback strategies of `protectNode`, as a table: each turns a failed
 * attempt into the update that answers for it (or leaves the failure), and
 * `protectNode` turns that into `{ update, served }`. Adding a strategy is
 * adding a row.
 *
 * @internal
 */
import type { LangGraphRunnableConfig } from "@langchain/langgraph"
import type * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

import * as Fallback from "../../Fallback.js"
import * as Describe from "../../internal/describe.js"
import { runInCall } from "../LangGraphBridge.js"
import { canPause, pause } from "./langgraph.js"

/**
 * A value, a promise of one, or an Effect of one: what user code (a node, a
 * fallback) may return.
 */
export type MaybeAsync<A> = A | Promise<A> | Effect.Effect<A, unknown, any>

export const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

export const toEffect = <A>(value: MaybeAsync<A>): Effect.Effect<A, unknown, any> =>
  Effect.isEffect(value)
    ? value
    : isPromiseLike(value)
    ? Effect.tryPromise({ try: () => value as PromiseLike<A>, catch: (e) => e })
    : Effect.succeed(value)

/** the one line that names a failure: `Name: message`, a tag, or the value (total, bounded) */
export const describeCause: (cause: Cause.Cause<unknown>) => string = Describe.describeCause

/** calls user code inside the LangGraph call context (so `interrupt()` and `getConfig()` work) */
export const call = <A>(f: () => MaybeAsync<A>): Effect.Effect<A, unknown, any> =>
  Effect.flatMap(runInCall(f), toEffect)

/** what user code returned, called inside the LangGraph call context (not yet awaited) */
export const runUserCode: <A>(f: () => MaybeAsync<A>) => Effect.Effect<MaybeAsync<A>, unknown> = runInCall

/** one call of a protected node */
export interface Call<S> {
  readonly state: S
  readonly config: LangGraphRunnableConfig
  /** the graph node's name (`config.metadata.langgraph_node`), else the breaker's */
  readonly node: string
}

/** `fallback: { cache: ... }` */
export interface CacheOption<S> {
  readonly cache: {
    /** default 5 minutes */
    readonly maxAge?: Duration.DurationInput | undefined
    /** default: one entry per node (the breaker's name) */
    readonly key?: ((state: S) => string) | undefined
  }
}

/** `fallback: { degrade: ... }` */
export interface DegradeOption<S, U> {
  readonly degrade: (state: S, ctx: Fallback.FailureContext) => MaybeAsync<U>
  readonly confidence?: number | undefined
}

/** `fallback: { escalate: ..., mode }` */
export interface EscalateOption<S, U> {
  /**
   * `name` is the breaker's name. In "notify" mode its answer is the update
   * (`undefined`: no update, the graph goes on); in "interrupt" mode it is
   * only told, and the human's answer on resume is the update.
   */
  readonly escalate: (name: string, state: S, ctx: Fallback.FailureContext) => MaybeAsync<U | undefined | void>
  /** "notify" (default), or "interrupt": pause the graph with LangGraph's `interrupt()` (needs a checkpointer) */
  readonly mode?: "notify" | "interrupt" | undefined
  /** how long the notifier may take (default 30 seconds) */
  readonly timeout?: Duration.DurationInput | undefined
}

/** `fallback: { decompose: ... }` */
export interface DecomposeOption<S, U> {
  readonly decompose: {
    readonly split: (state: S, ctx: Fallback.FailureContext) => MaybeAsync<ReadonlyArray<any>>
    readonly run: (piece: any, index: number) => MaybeAsync<any>
    readonly merge: (results: ReadonlyArray<any>) => U
    readonly concurrency?: number | undefined
  }
}

/**
 * What answers when the node cannot. `U` is the fallback's own update type,
 * independent of the node's (a node returning a `Command` may fall back to a
 * plain update, and the other way round).
 */
export type FallbackOption<S, U> =
  | "cache"
  | CacheOption<S>
  | DegradeOption<S, U>
  | EscalateOption<S, U>
  | DecomposeOption<S, U>

/** one row of the table */
export interface Strategy<S> {
  /** the value of the `__cascadebreaker_fallback__` marker and of the ledger's strategy */
  readonly name: Fallback.Served["strategy"]
  /** after the node succeeded with a clean update (the cache stores it) */
  readonly onSuccess: ((update: unknown, call: Call<S>) => Effect.Effect<void>) | undefined
  /**
   * Answers `failed` (an effect failing with the node's failure): succeeds
   * with the update that answers, or fails (with the original failure when
   * it has nothing; LangGraph control flow is never handled).
   */
  readonly recover: (failed: Effect.Effect<never, unknown>, call: Call<S>) => Effect.Effect<unknown, unknown, any>
}

/** how long the default cache fallback keeps a node's last good update */
export const DEFAULT_CACHE_MAX_AGE: Duration.DurationInput = "5 minutes"

const cache = <S>(option: CacheOption<S>["cache"], breaker: string): Strategy<S> => {
  const store = Effect.runSync(Fallback.makeCache<unknown>({ maxAge: option.maxAge ?? DEFAULT_CACHE_MAX_AGE }))
  const keyOf = option.key ?? (() => breaker)
  return {
    name: "cache",
    onSuccess: (update, c) => store.set(keyOf(c.state), update),
    recover: (failed, c) => failed.pipe(Fallback.cache(store, { key: keyOf(c.state), breaker }))
  }
}

const degrade = <S>(option: DegradeOption<S, unknown>, breaker: string): Strategy<S> => ({
  name: "degrade",
  onSuccess: undefined,
  recover: (failed, c) =>
    failed.pipe(
      Fallback.degrade((ctx) => call(() => option.degrade(c.state, ctx)), { breaker, confidence: option.confidence })
    )
})

const DEFAULT_ESCALATION_TIMEOUT: Duration.DurationInput = "30 seconds"

const escalate = <S>(option: EscalateOption<S, unknown>, breaker: string): Strategy<S> => ({
  name: "escalate",
  onSuccess: undefined,
  recover: (failed, c) =>
    failed.pipe(
      // the notifier's answer, `undefined` included ("acknowledged": no update), is what escalate served
      Fallback.escalate((ctx) => Effect.map(call(() => option.escalate(breaker, c.state, ctx)), Option.some), {
        breaker,
        timeout: option.timeout ?? DEFAULT_ESCALATION_TIMEOUT
      })
    )
})

/**
 * Escalation by `interrupt()`. When the graph pauses: the notifier (if any)
 * runs, the ledger records the `escalate` fallback, and the task's resume
 * list gets a marker (see `pause`). On resume `protectNode` finds the marker
 * before calling the node and answers with the human's update; this row is
 * not reached again.
 */
const interrupt = <S>(option: EscalateOption<S, unknown>, breaker: string): Strategy<S> => ({
  name: "escalate",
  onSuccess: undefined,
  recover: (failed, c) =>
    failed.pipe(
      Fallback.escalate((ctx) =>
        canPause(c.config)
          ? call(() => option.escalate(breaker, c.state, ctx)).pipe(
            Effect.zipRight(Fallback.recordServed("escalate", ctx, { breaker })),
            Effect.zipRight(runInCall(() =>
              pause(c.config, {
                node: c.node,
                breaker,
                error: describeCause(ctx.cause),
                traceback: ctx.traceback
              })
            ))
          )
          // no checkpointer, nothing can pause: the failure stays a failure
          : Effect.failCause(ctx.cause), { breaker, timeout: option.timeout ?? DEFAULT_ESCALATION_TIMEOUT })
    )
})

const decompose = <S>(option: DecomposeOption<S, unknown>["decompose"], breaker: string): Strategy<S> => ({
  name: "decompose",
  onSuccess: undefined,
  recover: (failed, c) =>
    failed.pipe(
      Fallback.decompose(
        (ctx) => call(() => option.split(c.state, ctx)),
        (piece, i) => call(() => option.run(piece, i)),
        option.merge,
        { breaker, concurrency: option.concurrency ?? 4 }
      )
    )
})

/** the row for a `fallback` option */
export const select = <S>(fallback: FallbackOption<S, unknown>, breaker: string): Strategy<S> =>
  fallback === "cache"
    ? cache({}, breaker)
    : "cache" in fallback
    ? cache(fallback.cache, breaker)
    : "degrade" in fallback
    ? degrade(fallback, breaker)
    : "escalate" in fallback
    ? (fallback.mode === "interrupt" ? interrupt(fallback, breaker) : escalate(fallback, breaker))
    : decompose(fallback.decompose, breaker)
