/**
 * `protectNode`: the Python original's promise for a LangGraph node — a
 * failure never escapes. The breaker decides whether the node runs, a
 * fallback answers when it cannot, the guard keeps its garbage out of the
 * next node, and the update says what happened in the marker keys.
 *
 * @since 0.1.0
 */
import type { LangGraphRunnableConfig } from "@langchain/langgraph"
import { interrupt as lgInterrupt, isCommand } from "@langchain/langgraph"
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type { BreakerOptions } from "../BreakerConfig.js"
import { BreakerRegistry } from "../BreakerRegistry.js"
import * as CascadeGuard from "../CascadeGuard.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import * as Fallback from "../Fallback.js"
import type { Bridge } from "./LangGraphBridge.js"
import { runInCall } from "./LangGraphBridge.js"
import { FALLBACK_KEY, QUARANTINED_KEY, TRACEBACK_KEY } from "./markers.js"

type MaybeAsync<A> = A | Promise<A> | Effect.Effect<A, unknown, any>

/**
 * A LangGraph node: a plain (async) function or one returning an Effect.
 *
 * @since 0.1.0
 * @category models
 */
export type Node<S, U> = (state: S, config: LangGraphRunnableConfig) => MaybeAsync<U>

/**
 * What answers when the node cannot.
 *
 * @since 0.1.0
 * @category models
 */
export type FallbackOption<S, U> =
  | "cache"
  | { readonly cache: { readonly maxAge?: Duration.DurationInput; readonly key?: (state: S) => string } }
  | { readonly degrade: (state: S, ctx: Fallback.FailureContext) => MaybeAsync<U>; readonly confidence?: number }
  | {
    readonly escalate: (name: string, state: S, ctx: Fallback.FailureContext) => MaybeAsync<U | undefined>
    /** "notify" (default): the notifier answers or the node answers nothing; "interrupt": pause the graph for a human */
    readonly mode?: "notify" | "interrupt"
    readonly timeout?: Duration.DurationInput
  }
  | {
    readonly decompose: {
      readonly split: (state: S, ctx: Fallback.FailureContext) => MaybeAsync<ReadonlyArray<any>>
      readonly run: (piece: any, index: number) => MaybeAsync<any>
      readonly merge: (results: ReadonlyArray<any>) => U
      readonly concurrency?: number
    }
  }

/**
 * What happened in one call of a protected node (for logs and traces).
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly node: string
  readonly runId: string
  readonly outcome: "ok" | "fallback" | "failed" | "contaminated"
  readonly fallback?: string | undefined
  readonly error?: string | undefined
  readonly quarantined: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ProtectOptions<S, U> {
  /** the breaker: options (created once for this node) or the name of a breaker in the registry */
  readonly breaker: BreakerOptions | string
  /** default `"cache"` (last good update of this node, 5 minutes) */
  readonly fallback?: FallbackOption<S, U> | undefined
  readonly guard?: {
    readonly quarantineOnFailure?: ReadonlyArray<keyof S & string>
    readonly readsFrom?: ReadonlyArray<keyof S & string>
    readonly validate?: Schema.Schema<any, any, never>
    readonly maxRepeats?: number
  } | undefined
  /** called after every call with what happened */
  readonly onOutcome?: ((outcome: Outcome) => void) | undefined
}

const toEffect = <A>(value: MaybeAsync<A>): Effect.Effect<A, unknown, any> =>
  Effect.isEffect(value)
    ? (value as Effect.Effect<A, unknown, any>)
    : value instanceof Promise || (typeof value === "object" && value !== null && typeof (value as any).then === "function")
    ? Effect.tryPromise({ try: () => value as Promise<A>, catch: (e) => e })
    : Effect.succeed(value as A)

/** calls user code inside the LangGraph call context (so `interrupt()` and `getConfig()` work) */
const call = <A>(f: () => MaybeAsync<A>): Effect.Effect<A, unknown, any> => Effect.flatMap(runInCall(f), toEffect)

const errorLine = (cause: Cause.Cause<unknown>) => {
  const e = Cause.squash(cause)
  return e instanceof Error ? `${e.name}: ${e.message}` : typeof e === "object" && e !== null && "_tag" in e ? String((e as any)._tag) : String(e)
}

/**
 * Protects a LangGraph node. Returns a LangGraph node `(state, config) =>
 * Promise<update>` that never fails (LangGraph control flow — `interrupt()`,
 * `Command` — passes through): on failure the update is the fallback's
 * answer plus `__cascadebreaker_traceback__` (the failure, naming the
 * function that failed) and `__cascadebreaker_fallback__` (which strategy
 * answered, or "none").
 *
 * @since 0.1.0
 * @category constructors
 */
export const protectNode = <S extends Record<string, any>, U extends Record<string, any>, R>(
  bridge: Bridge<R>,
  node: Node<S, U>,
  options: ProtectOptions<S, U>
): (state: S, config?: LangGraphRunnableConfig) => Promise<Partial<U> & Record<string, unknown>> => {

  const name = typeof options.breaker === "string" ? options.breaker : options.breaker.name
  const fallback = options.fallback ?? "cache"
  const guardSpec = options.guard

  // created once, on first use, inside the bridge's runtime
  let breaker: Promise<CircuitBreaker.CircuitBreaker> | undefined
  const getBreaker = () =>
    (breaker ??= bridge.runtime.runPromise(
      typeof options.breaker === "string"
        ? Effect.flatMap(BreakerRegistry, (r) => r.get(options.breaker as string))
        : Effect.orDie(CircuitBreaker.make(options.breaker))
    ))
  let cache: Promise<Fallback.CacheStore<U>> | undefined
  const cacheOptions = typeof fallback === "object" && "cache" in fallback ? fallback.cache : undefined
  const getCache = () => (cache ??= Effect.runPromise(Fallback.makeCache<U>({ maxAge: cacheOptions?.maxAge ?? "5 minutes" })))

  return async (state, config) => {
    const [b, store] = await Promise.all([
      getBreaker(),
      fallback === "cache" || cacheOptions !== undefined ? getCache() : undefined
    ])
    let served: { readonly strategy: string; readonly traceback: string; readonly error: string } | undefined
    const onServedAs = (strategy?: string) => (s: Fallback.Served) =>
      Effect.sync(() =>
        void (served = { strategy: strategy ?? s.strategy, traceback: s.context.traceback, error: errorLine(s.context.cause) })
      )
    const fb = { breaker: name, onServed: onServedAs() }

    /**
     * Calls the node with a signal that also aborts when the breaker interrupts it
     * (callTimeout), so a plain async node that honours `config.signal` really stops.
     */
    const callNode = (s: S) =>
      Effect.suspend(() => {
        const controller = new AbortController()
        const signal = config?.signal === undefined ? controller.signal : AbortSignal.any([config.signal, controller.signal])
        return call(() => node(s, { ...config, signal })).pipe(
          Effect.onInterrupt(() => Effect.sync(() => controller.abort(new Error(`node "${name}" was interrupted`))))
        )
      })

    const program = Effect.gen(function*() {
      const guard = yield* CascadeGuard.CascadeGuard
      const runId = yield* CascadeGuard.currentRun
      const { masked, state: visible } = yield* guard.mask(guardSpec?.readsFrom ?? [], state)
      const quarantined = masked.map((m) => m.key)

      const attempt = (s: S) => callNode(s).pipe(CircuitBreaker.withBreaker(b)) as Effect.Effect<U, unknown>
      const guarded: Effect.Effect<Partial<U>, unknown> = guardSpec === undefined
        ? attempt(visible)
        : (guard.protectNode(name, guardSpec as CascadeGuard.NodeSpec<any>, attempt as any)(visible) as any)

      let withFallback: Effect.Effect<Partial<U>, unknown, any>
      if (fallback === "cache" || "cache" in fallback) {
        const key = cacheOptions?.key?.(state) ?? name
        withFallback = guarded.pipe(Fallback.cache(store as unknown as Fallback.CacheStore<Partial<U>>, { key, ...fb }))
      } else if ("degrade" in fallback) {
        withFallback = guarded.pipe(
          Fallback.degrade((ctx) => call(() => fallback.degrade(state, ctx)), { ...fb, confidence: fallback.confidence })
        )
      } else if ("escalate" in fallback) {
        withFallback = fallback.mode === "interrupt"
          ? guarded.pipe(
            Fallback.degrade(
              (ctx) =>
                // first run: LangGraph's interrupt() throws GraphInterrupt and the graph pauses;
                // on resume it returns the human's answer, which becomes the update
                Effect.map(
                  runInCall(() => lgInterrupt({ breaker: name, error: errorLine(ctx.cause), traceback: ctx.traceback })),
                  (answer) => answer as U
                ),
              { breaker: name, onServed: onServedAs("escalate") }
            )
          ) as Effect.Effect<Partial<U>, unknown, any>
          : guarded.pipe(
            Fallback.escalate(
              (ctx) => Effect.map(call(() => fallback.escalate(name, state, ctx)), (u) => Option.fromNullable(u)),
              { ...fb, timeout: fallback.timeout ?? "30 seconds" }
            ),
            // the notifier only acknowledged: the node answers nothing, the graph goes on
            Effect.catchIf(
              (e): e is Fallback.EscalatedError => e instanceof Fallback.EscalatedError,
              (e) =>
                Effect.sync(() => {
                  served = { strategy: "escalate", traceback: e.traceback, error: e.message }
                  return {} as Partial<U>
                })
            )
          ) as Effect.Effect<Partial<U>, unknown, any>
      } else {
        const d = fallback.decompose
        withFallback = guarded.pipe(
          Fallback.decompose(
            (ctx) => call(() => d.split(state, ctx)),
            (piece, i) => call(() => d.run(piece, i)),
            d.merge,
            { ...fb, concurrency: d.concurrency ?? 4 }
          )
        )
      }

      const exit = yield* Effect.exit(withFallback)
      if (Exit.isSuccess(exit) && isCommand(exit.value)) {
        // navigation (`new Command({ goto, update })`) is LangGraph's: returned untouched
        const outcome: Outcome = { node: name, runId, outcome: "ok", quarantined }
        return { update: exit.value as unknown as Record<string, unknown>, outcome }
      }
      if (Exit.isSuccess(exit)) {
        const update: Record<string, unknown> = { ...exit.value }
        let contaminated = false
        if (served !== undefined) {
          update[FALLBACK_KEY] = served.strategy
          update[TRACEBACK_KEY] = served.traceback
        } else if (guardSpec !== undefined) {
          contaminated = (yield* guard.quarantined).some((q) => q.node === name)
        }
        if (quarantined.length > 0) update[QUARANTINED_KEY] = quarantined
        const outcome: Outcome = {
          node: name,
          runId,
          outcome: served !== undefined ? "fallback" : contaminated ? "contaminated" : "ok",
          fallback: served?.strategy,
          error: served?.error,
          quarantined
        }
        return { update, outcome }
      }
      if (Cause.isInterruptedOnly(exit.cause) || CircuitBreaker.isControlFlow(Cause.squash(exit.cause))) {
        return yield* Effect.failCause(exit.cause)
      }
      // nothing could answer: the failure still does not escape the node
      const update: Record<string, unknown> = { [TRACEBACK_KEY]: Cause.pretty(exit.cause), [FALLBACK_KEY]: "none" }
      if (quarantined.length > 0) update[QUARANTINED_KEY] = quarantined
      const outcome: Outcome = { node: name, runId, outcome: "failed", fallback: "none", error: errorLine(exit.cause), quarantined }
      return { update, outcome }
    })

    const result = await bridge.run(program as Effect.Effect<{ update: Record<string, unknown>; outcome: Outcome }, unknown, any>, config)
    options.onOutcome?.(result.outcome)
    return result.update as Partial<U> & Record<string, unknown>
  }
}
