/**
 * The bridge between Effect and LangGraph: one `ManagedRuntime` built from
 * your layer, and `bridge.node(fn)` turning an Effect node into a LangGraph
 * node `(state, config) => Promise<update>`.
 *
 * @since 0.1.0
 */
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons"
import type { LangGraphRunnableConfig } from "@langchain/langgraph"
import { interrupt as lgInterrupt } from "@langchain/langgraph"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import { globalValue } from "effect/GlobalValue"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"

import * as BreakerRegistryModule from "../BreakerRegistry.js"
import { BreakerRegistry } from "../BreakerRegistry.js"
import * as CascadeGuard from "../CascadeGuard.js"
import * as CallRuntime from "../internal/callRuntime.js"
import * as Ledger from "../Ledger.js"

/**
 * The services every bridge has: those of your layer, plus a memory
 * `Ledger`, a `BreakerRegistry` and a `CascadeGuard` when your layer does
 * not provide them.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = Ledger.Ledger | BreakerRegistry | CascadeGuard.CascadeGuard

/**
 * @since 0.1.0
 * @category models
 */
export interface Bridge<R> {
  readonly runtime: ManagedRuntime.ManagedRuntime<R | Services, unknown>
  /** turns an Effect node into a LangGraph node */
  readonly node: <S, U, E>(
    fn: (state: S, config: LangGraphRunnableConfig) => Effect.Effect<U, E, R | Services>
  ) => (state: S, config?: LangGraphRunnableConfig) => Promise<U>
  /** runs an effect for one node call: run id from `thread_id`, `config.signal` interrupts, failures rethrown as the original error */
  readonly run: <A, E>(effect: Effect.Effect<A, E, R | Services>, config?: LangGraphRunnableConfig) => Promise<A>
  /** releases the runtime; flushes the ledger */
  readonly dispose: () => Promise<void>
}

/**
 * `bridge[RunNow](effect, config)`: `run`, answering the value itself (or
 * throwing) when the fiber completes without suspending.
 *
 * @internal
 */
export const RunNow: unique symbol = Symbol.for("agentarmour/LangGraphBridge/runNow")

/** @internal */
export type RunNowFn<R> = <A, E>(
  effect: Effect.Effect<A, E, R | Services>,
  config: LangGraphRunnableConfig | undefined
) => A | Promise<A>

/** the LangGraph call context of the current node (for `interrupt()` from Effect code) */
const currentCall = globalValue(
  Symbol.for("agentarmour/LangGraphCall"),
  () =>
    FiberRef.unsafeMake<Option.Option<{ readonly store: unknown; readonly config: LangGraphRunnableConfig }>>(
      Option.none()
    )
)

/**
 * The AsyncLocalStorage store of the current LangGraph call, captured where
 * the node was entered, so that LangGraph functions (`interrupt`,
 * `getConfig`) called later from Effect fibers see the right graph run.
 *
 * @since 0.1.0
 * @category utils
 */
export const runInCall = <A>(f: () => A): Effect.Effect<A, unknown> =>
  // one step: the call is read from the fiber, no FiberRef.get + Effect.try
  Effect.withFiberRuntime((fiber) => {
    const call = fiber.getFiberRef(currentCall)
    try {
      if (Option.isNone(call)) return Effect.succeed(f())
      const als = AsyncLocalStorageProviderSingleton.getInstance()
      // still inside the node's own call (the fiber runs synchronously where LangGraph called the node)
      return Effect.succeed(als.getStore() === call.value.store ? f() : (als.run(call.value.store, f) as A))
    } catch (e) {
      // Exit.fail never inspects what was thrown (Effect.fail reads it, and a hostile Proxy throws)
      return Exit.fail(e)
    }
  })

/**
 * LangGraph's `interrupt(value)` for Effect nodes: pauses the graph for a
 * human (requires a checkpointer) and resumes with their answer. The pause
 * is control flow: breakers and fallbacks let it through uncounted.
 *
 * @since 0.1.0
 * @category combinators
 */
export const interrupt = <Resume = unknown>(value: unknown): Effect.Effect<Resume> =>
  Effect.orDie(runInCall(() => lgInterrupt(value) as Resume))

/**
 * The run id of a LangGraph call: its thread_id.
 *
 * @since 0.1.0
 */
export const runIdOf = (config: LangGraphRunnableConfig | undefined): string => {
  const id = config?.configurable?.["thread_id"]
  return id === undefined || id === null ? "default" : String(id)
}

const withDefaults = <R, E>(layer: Layer.Layer<R, E, never>): Layer.Layer<R | Services, E> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      let ctx = yield* Effect.context<R>() as Effect.Effect<Context.Context<any>>
      if (Option.isNone(Context.getOption(ctx, Ledger.Ledger))) {
        ctx = Context.add(ctx, Ledger.Ledger, yield* Ledger.makeMemory())
      }
      if (Option.isNone(Context.getOption(ctx, BreakerRegistry))) {
        ctx = Context.add(
          ctx,
          BreakerRegistry,
          yield* Effect.orDie(BreakerRegistryModule.make().pipe(Effect.provide(ctx)))
        )
      }
      if (Option.isNone(Context.getOption(ctx, CascadeGuard.CascadeGuard))) {
        ctx = Context.add(ctx, CascadeGuard.CascadeGuard, yield* CascadeGuard.make().pipe(Effect.provide(ctx)))
      }
      return ctx as Context.Context<R | Services>
    })
  ).pipe(Layer.provide(layer))

/**
 * The original error of a failed node, never a FiberFailure wrapper.
 *
 * @since 0.1.0
 */
export const toThrowable = (cause: Cause.Cause<unknown>, signal: AbortSignal | undefined): unknown => {
  if (Cause.isInterruptedOnly(cause)) {
    if (signal?.aborted) return signal.reason ?? new Error("the graph run was aborted")
    return new Error("the node was interrupted")
  }
  return Cause.squash(cause)
}

/**
 * Your layer, or — when it fails to build (a ledger whose database cannot
 * be opened) — a no-op ledger and a warning in the log: a runtime that
 * failed to build is never kept, so nodes keep running (protected nodes
 * whose services are missing fail and their fallbacks answer).
 */
const orNoopLedger = <R, E>(layer: Layer.Layer<R, E, never>): Layer.Layer<R> =>
  Layer.catchAllCause(layer, (cause) =>
    Layer.merge(
      Ledger.layerNoop,
      Layer.effectDiscard(Effect.logWarning(
        "agentarmour: the LangGraph bridge's layer failed to build; running with a no-op ledger",
        cause
      ))
    )) as Layer.Layer<R>

/**
 * Makes a bridge from your layer (ledger, guard, registry, your own services).
 * A layer that fails to build is replaced by a no-op ledger (logged once).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <R = never, E = never>(layer?: Layer.Layer<R, E, never>): Bridge<R> => {
  const runtime: ManagedRuntime.ManagedRuntime<R | Services, unknown> = ManagedRuntime.make(
    withDefaults(orNoopLedger(layer ?? (Layer.empty as Layer.Layer<unknown> as Layer.Layer<R, E>)))
  )
  // the runtime, once built: calls fork on it directly (see `run`)
  let built: Runtime.Runtime<R | Services> | undefined
  const getRuntime = (): Runtime.Runtime<R | Services> | Promise<Runtime.Runtime<R | Services>> =>
    built ?? runtime.runtime().then((rt) => (built = rt))

  /**
   * Runs a node's effect in a fiber of the bridge's runtime whose run id and
   * LangGraph call are set when the fiber is made (`updateRefs`): one copy of
   * the fiber's refs instead of two `Effect.locally` (each copies them twice).
   * `config.signal` interrupts the fiber. A fiber that completes at once (a
   * node that did not suspend) answers its exit at once: no promise, no
   * listener on the signal.
   */
  const runExit = <A, E2>(
    effect: Effect.Effect<A, E2, R | Services>,
    config: LangGraphRunnableConfig | undefined,
    rt: Runtime.Runtime<R | Services>
  ): Exit.Exit<A, E2> | Promise<Exit.Exit<A, E2>> => {
    const store = AsyncLocalStorageProviderSingleton.getInstance().getStore()
    // code called inside this LangGraph call outside the fiber (a chat model, a plain node) finds the runtime's Clock
    CallRuntime.register(store, rt)
    const call = Option.some({ store, config: config ?? {} })
    const runId = runIdOf(config)
    const signal = config?.signal
    if (signal?.aborted) return Exit.interrupt(FiberId.none)
    const fiber = Runtime.runFork(rt, effect, {
      updateRefs: (refs, id) =>
        FiberRefs.updateManyAs(refs, {
          entries: [[CascadeGuard.currentRun, [[id, runId]]], [currentCall, [[id, call]]]]
        })
    })
    const done = fiber.unsafePoll()
    if (done !== null) return done
    return new Promise<Exit.Exit<A, E2>>((resolve) => {
      if (signal === undefined) return fiber.addObserver(resolve)
      const onAbort = () => fiber.unsafeInterruptAsFork(fiber.id())
      signal.addEventListener("abort", onAbort, { once: true })
      fiber.addObserver((exit) => {
        signal.removeEventListener("abort", onAbort)
        resolve(exit)
      })
    })
  }

  const valueOf = <A, E2>(exit: Exit.Exit<A, E2>, signal: AbortSignal | undefined): A => {
    if (Exit.isSuccess(exit)) return exit.value
    throw toThrowable(exit.cause, signal)
  }

  const run = async <A, E2>(
    effect: Effect.Effect<A, E2, R | Services>,
    config?: LangGraphRunnableConfig
  ): Promise<A> => {
    const exit = runExit(effect, config, built ?? await getRuntime())
    return valueOf(exit instanceof Promise ? await exit : exit, config?.signal)
  }

  /** `run` answering at once when the fiber completes at once (protectNode's path) */
  const runNow = <A, E2>(
    effect: Effect.Effect<A, E2, R | Services>,
    config: LangGraphRunnableConfig | undefined
  ): A | Promise<A> => {
    if (built === undefined) return run(effect, config)
    const exit = runExit(effect, config, built)
    return exit instanceof Promise ? exit.then((e) => valueOf(e, config?.signal)) : valueOf(exit, config?.signal)
  }

  const bridge: Bridge<R> & { readonly [RunNow]: RunNowFn<R> } = {
    [RunNow]: runNow,
    runtime,
    run,
    node: (fn) => (state, config) => run(Effect.suspend(() => fn(state, config ?? {})), config),
    dispose: async () => {
      await runtime.runPromise(Effect.flatMap(Ledger.Ledger, (l) => l.flush)).catch(() => undefined)
      await runtime.dispose()
    }
  }
  return bridge
}
