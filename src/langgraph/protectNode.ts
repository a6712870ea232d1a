/**
 * `protectNode`: the Python original's promise for a LangGraph node — a
 * failure never escapes. The breaker decides whether the node runs, a
 * fallback answers when it cannot, the guard keeps its garbage out of the
 * next node, and the update says what happened in the marker keys.
 *
 * @since 0.1.0
 */
import type { LangGraphRunnableConfig } from "@langchain/langgraph"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import { identity } from "effect/Function"
import type * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"

import { type BreakerOptions, decode as decodeBreaker } from "../BreakerConfig.js"
import { BreakerRegistry } from "../BreakerRegistry.js"
import * as Budget from "../Budget.js"
import * as CascadeGuard from "../CascadeGuard.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import { awaitUntimed } from "../internal/breaker/timeout.js"
import { handlers, type SelfTimed, selfTimed } from "../internal/circuitBreaker.js"
import { describeCause, prettyCause } from "../internal/describe.js"
import type * as Ledger from "../Ledger.js"
import { InvalidUpdateError } from "./errors.js"
import * as LG from "./internal/langgraph.js"
import * as Strategies from "./internal/strategies.js"
import { decodePricing, type Pricing, usagesOf } from "./internal/usage.js"
import { type Bridge, RunNow, type RunNowFn } from "./LangGraphBridge.js"
import { FALLBACK_KEY, QUARANTINED_KEY, TRACEBACK_KEY } from "./markers.js"

/**
 * A LangGraph node: a plain (async) function or one returning an Effect.
 * It may return an update object, a `Command`, or nothing.
 *
 * @since 0.1.0
 * @category models
 */
export type Node<S, U> = (state: S, config: LangGraphRunnableConfig) => Strategies.MaybeAsync<U>

/**
 * A compiled graph (a subgraph) used as a node.
 *
 * @since 0.2.0
 * @category models
 */
export type Subgraph<U> = LG.Subgraph<U>

/**
 * What answers when the node cannot: `"cache"` (default), `{ cache }`,
 * `{ degrade }`, `{ escalate, mode }` or `{ decompose }`. `U` is the
 * fallback's own update type (a plain update, a `Command`, or nothing),
 * independent of the node's.
 *
 * @since 0.1.0
 * @category models
 */
export type FallbackOption<S, U> = Strategies.FallbackOption<S, U>

/**
 * What happened in one call of a protected node (for logs and traces).
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  /** the graph node's name (`config.metadata.langgraph_node`), else the breaker's */
  readonly node: string
  readonly breaker: string
  readonly runId: string
  readonly outcome: "ok" | "fallback" | "failed" | "contaminated"
  /** the strategy that answered (`outcome: "fallback"`), or "none" (`outcome: "failed"`) */
  readonly fallback?: string | undefined
  readonly error?: string | undefined
  readonly quarantined: ReadonlyArray<string>
  /** the node's budget refused the call (it did not run) */
  readonly budget?: BudgetRefusal | undefined
}

/**
 * Why a budget refused a call (from its `BudgetExceededError`).
 *
 * @since 0.2.0
 * @category models
 */
export interface BudgetRefusal {
  readonly budget: string
  readonly scope: "run" | "window"
  readonly resource: "tokens" | "costUsd" | "calls" | undefined
  readonly limit: number
  readonly spent: number
  readonly retryAfterMillis: number | null
}

/** the value, or the ParseError itself thrown (options checked when the graph is built) */
const throwParseError = <A>(decoded: Effect.Effect<A, ParseResult.ParseError>): A => {
  const result = Effect.runSync(Effect.either(decoded))
  if (Either.isLeft(result)) throw result.left
  return result.right
}

/** `instanceof`, false for a hostile value (a Proxy whose getPrototypeOf throws) */
const isBudgetRefusal = (e: unknown): e is Budget.BudgetExceededError => {
  try {
    return e instanceof Budget.BudgetExceededError
  } catch {
    return false
  }
}

/** the budget refusal in a failure, if it is one */
const refusalOf = (cause: Cause.Cause<unknown>): BudgetRefusal | undefined => {
  for (const e of Cause.failures(cause)) {
    if (isBudgetRefusal(e)) {
      return {
        budget: e.budget,
        scope: e.scope,
        resource: e.resource,
        limit: e.limit,
        spent: e.spent,
        retryAfterMillis: e.retryAfterMillis
      }
    }
  }
  return undefined
}

/**
 * The custom event `agentarmour` every protected call emits to LangGraph's
 * callbacks (`graph.streamEvents(..., { version: "v2" })`, LangSmith).
 *
 * @since 0.2.0
 * @category models
 */
export interface NodeEvent {
  readonly node: string
  readonly outcome: Outcome["outcome"]
  readonly fallback?: string | undefined
  /** the breaker's state after the call */
  readonly state: CircuitBreaker.BreakerState
  /** the node's budget refused the call */
  readonly budget?: BudgetRefusal
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
  /**
   * What the node may spend (options: one budget for this node, made on first
   * use; or a `Budget` shared with other nodes). Charged with the
   * `usage_metadata` of the AI messages the node returns; a spent budget
   * refuses the call before it runs and the fallback answers.
   */
  readonly budget?: Budget.BudgetOptions | Budget.Budget | undefined
  /** dollars per million input and output tokens, per model name (no built-in prices) */
  readonly pricing?: Pricing | undefined
}

/**
 * The marker keys a protected node may add to its update.
 *
 * @since 0.2.0
 * @category models
 */
export interface Markers {
  readonly [TRACEBACK_KEY]?: string
  readonly [FALLBACK_KEY]?: string
  readonly [QUARANTINED_KEY]?: ReadonlyArray<string>
}

/**
 * What a protected node returns for a node or fallback returning `A`: a
 * `Command` stays a `Command` (markers in its `update`), an update gains the
 * markers, nothing becomes the markers alone.
 *
 * @since 0.2.0
 * @category models
 */
export type Protected<A> = A extends { readonly lg_name: "Command" } ? A
  : A extends null | undefined | void ? Markers
  : Partial<A> & Markers

/**
 * The LangGraph node `protectNode` returns.
 *
 * @since 0.2.0
 * @category models
 */
export type ProtectedNode<S, A> = (state: S, config?: LangGraphRunnableConfig) => Promise<Protected<A> | Markers>

/**
 * The span around every protected call, and its attributes.
 *
 * @since 0.2.0
 * @category telemetry
 */
export const NODE_SPAN = "agentarmour.node"
/** @since 0.2.0 @category telemetry */
export const SPAN_NODE = "agentarmour.node"
/** @since 0.2.0 @category telemetry */
export const SPAN_BREAKER = "agentarmour.breaker"
/** @since 0.2.0 @category telemetry */
export const SPAN_OUTCOME = "agentarmour.outcome"
/** @since 0.2.0 @category telemetry */
export const SPAN_FALLBACK = "agentarmour.fallback"

/** Effect's own tracer, in place when no tracer (OpenTelemetry) is installed */
const defaultTracer = Effect.runSync(Effect.tracer)

interface Served {
  readonly strategy: string
  readonly traceback: string
  readonly error: string
}

/** what answered one call: the update, and which strategy served it (none: the node did) */
interface Answer {
  readonly update: unknown
  readonly served: Served | undefined
  readonly contaminated: boolean
  readonly refusal?: BudgetRefusal | undefined
}

const answered = (update: unknown, contaminated = false): Answer => ({ update, served: undefined, contaminated })

/** what `program` returns to the LangGraph node */
interface Result {
  readonly update: unknown
  readonly outcome: Outcome
  readonly breakerState: CircuitBreaker.BreakerState | undefined
}

const noKeys: ReadonlyArray<string> = []

const isControlFlowCause = (cause: Cause.Cause<unknown>): boolean =>
  Cause.isInterruptedOnly(cause) || CircuitBreaker.isControlFlow(Cause.squash(cause))

/**
 * Protects a LangGraph node — a function (plain or Effect) or a compiled
 * subgraph. Returns a LangGraph node `(state, config) => Promise<update>`
 * that never fails (LangGraph control flow — `interrupt()`, `Command` —
 * passes through): on failure the update is the fallback's answer plus
 * `__cascadebreaker_traceback__` (the failure, naming the function that
 * failed) and `__cascadebreaker_fallback__` (which strategy answered, or
 * "none"). A `Command`, from the node or a fallback, keeps its navigation
 * and carries the markers in its `update`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const protectNode = <S extends Record<string, any>, U = never, F = never, R = never>(
  bridge: Bridge<R>,
  node: Node<S, U> | Subgraph<U>,
  options: ProtectOptions<S, F>
): ProtectedNode<S, U | F> => {
  const name = typeof options.breaker === "string" ? options.breaker : options.breaker.name
  const breakerOptions = options.breaker
  const strategy = Strategies.select<S>(options.fallback ?? "cache", name)
  const guardSpec = options.guard as CascadeGuard.NodeSpec<S> | undefined
  const writes: ReadonlyArray<string> = guardSpec?.quarantineOnFailure ?? []
  const reads: ReadonlyArray<string> = guardSpec?.readsFrom ?? []
  const run: Node<S, unknown> = LG.isSubgraph(node) ? (state, config) => node.invoke(state, config) : node

  // created once, on first use, inside the bridge's runtime (Effect.cached: concurrent first calls share it)
  // bad breaker options fail here, when the graph is built, with a ParseError naming the option
  const breakerConfig = typeof breakerOptions === "string" ? undefined : throwParseError(decodeBreaker(breakerOptions))
  const makeBreaker: Effect.Effect<CircuitBreaker.CircuitBreaker, never, BreakerRegistry | Ledger.Ledger> =
    breakerConfig === undefined
      ? Effect.flatMap(BreakerRegistry, (r) => r.get(breakerOptions as string))
      : Effect.orDie(CircuitBreaker.make(breakerConfig))
  const cachedBreaker = Effect.runSync(Effect.cached(makeBreaker))
  // the hot path reads one field once the breaker exists (set only inside Effect.sync)
  let resolved: CircuitBreaker.CircuitBreaker | undefined
  const getBreaker = Effect.suspend(() =>
    resolved !== undefined
      ? Effect.succeed(resolved)
      : Effect.tap(cachedBreaker, (b) => Effect.sync(() => (resolved = b)))
  )
  const budgetOption = options.budget
  // bad budget options or prices fail here, when the graph is built, with a ParseError naming the field
  if (budgetOption !== undefined && !Budget.isBudget(budgetOption)) {
    const { store: _, ...rest } = budgetOption
    throwParseError(Budget.decode(rest))
  }
  const pricing = options.pricing === undefined ? undefined : throwParseError(decodePricing(options.pricing))
  const getBudget: Effect.Effect<Budget.Budget | undefined, never, Ledger.Ledger> = budgetOption === undefined
    ? Effect.succeed(undefined)
    : Budget.isBudget(budgetOption)
    ? Effect.succeed(budgetOption)
    : Effect.runSync(Effect.cached(Effect.orDie(Budget.make(budgetOption))))
  /** charges what the AI messages of the node's output spent to the enclosing budget */
  const charge = (output: unknown) => Effect.forEach(usagesOf(output, pricing), Budget.charge, { discard: true })

  /**
   * Calls the node. Its `config.signal` is made on first read (most nodes never read it) and
   * aborted when the call is interrupted — by the breaker's callTimeout, or because the graph
   * run was aborted (`bridge.run` interrupts the fiber) — so a plain async node that honours it
   * really stops. What it returns must be an update, a `Command` or nothing.
   */
  const callNode = (
    state: S,
    c: Strategies.Call<S>,
    timed: SelfTimed | undefined
  ): Effect.Effect<unknown, unknown, any> =>
    Effect.suspend(() => {
      let controller: AbortController | undefined
      const config: LangGraphRunnableConfig = {
        ...c.config,
        get signal() {
          return (controller ??= new AbortController()).signal
        }
      }
      // stops the node: at its deadline (the CallTimeoutError is the reason) or when the call is interrupted
      const stop = (reason: unknown) => controller?.abort(reason ?? new Error(`node "${c.node}" was interrupted`))
      const checked = (update: unknown): Effect.Effect<unknown, InvalidUpdateError> =>
        LG.isInvalidUpdate(update)
          ? Effect.fail(new InvalidUpdateError({ node: c.node, returned: LG.describeValue(update) }))
          : Effect.succeed(update)
      const timer = timed?.timer
      return Effect.flatMap(Strategies.runUserCode(() => run(state, config)), (result) => {
        // an update returned at once: nothing to wait for, nothing to time
        if (!Effect.isEffect(result) && !Strategies.isPromiseLike(result)) return checked(result)
        // a promise is awaited on this fiber (until its deadline, under the breaker's callTimeout);
        // an Effect runs in a fiber the deadline interrupts
        const waited = Effect.isEffect(result)
          ? Effect.onExit(result, (exit) => Exit.isInterrupted(exit) ? Effect.sync(() => stop(undefined)) : Effect.void)
          : timer === undefined
          // cancelable: the node may read its signal after its first await (a few µs on a call that waits on I/O)
          ? awaitUntimed(result, stop, identity, true)
          : timer.awaitPromise(result, stop, identity, true)
        return Effect.flatMap(timer === undefined || !Effect.isEffect(result) ? waited : timer.run(waited), checked)
      })
    })

  /** the guard around an attempt: quarantine on failure, inspect the output, lift on a clean success */
  const guarded = (
    guard: CascadeGuard.CascadeGuard,
    spec: CascadeGuard.NodeSpec<S>,
    attempt: Effect.Effect<unknown, unknown, any>
  ): Effect.Effect<Answer, unknown, any> =>
    attempt.pipe(
      Effect.tapErrorCause((cause) =>
        isControlFlowCause(cause)
          ? Effect.void
          : guard.quarantine(name, writes, `${name} failed: ${describeCause(cause)}`)
      ),
      Effect.flatMap((output) =>
        Effect.flatMap(guard.inspect(name, spec, LG.updateOf(output) ?? output), (verdict) => {
          if (verdict._tag === "Clean") return Effect.as(guard.lift(name), answered(output))
          // the bad values never travel downstream: drop every key the node wrote
          const bad = Array.from(new Set([...writes, ...Object.keys(LG.updateOf(output) ?? {})]))
          return Effect.as(guard.quarantine(name, bad, verdict.reason), answered(LG.withoutKeys(output, bad), true))
        })
      )
    )

  /** the update, the outcome and (for the custom event) the breaker's state of an answered call */
  const finish = (
    c: Strategies.Call<S>,
    runId: string,
    quarantined: ReadonlyArray<string>,
    answer: Answer,
    breaker: CircuitBreaker.CircuitBreaker
  ): Effect.Effect<Result> => {
    const { contaminated, served } = answer
    const markers = served !== undefined
      ? {
        [FALLBACK_KEY]: served.strategy,
        [TRACEBACK_KEY]: served.traceback,
        ...(quarantined.length > 0 ? { [QUARANTINED_KEY]: quarantined } : {})
      }
      : quarantined.length > 0
      ? { [QUARANTINED_KEY]: quarantined }
      : undefined
    const outcome: Outcome = {
      node: c.node,
      breaker: name,
      runId,
      outcome: served === undefined ? (contaminated ? "contaminated" : "ok") : served.strategy === "none"
        ? "failed"
        : "fallback",
      fallback: served?.strategy,
      error: served?.error,
      quarantined,
      ...(answer.refusal === undefined ? {} : { budget: answer.refusal })
    }
    const update = LG.withMarkers(answer.update, markers)
    // the breaker's state is only for the custom event, sent when the run has callbacks
    return c.config.callbacks === undefined
      ? Effect.succeed({ update, outcome, breakerState: undefined })
      : Effect.map(breaker.state, (breakerState) => ({ update, outcome, breakerState }))
  }

  /** nothing could answer: the failure still does not escape the node */
  const unanswered = (cause: Cause.Cause<unknown>): Answer => ({
    update: undefined,
    served: { strategy: "none", traceback: prettyCause(cause), error: describeCause(cause) },
    contaminated: false,
    refusal: refusalOf(cause)
  })

  /** every case: breaker made on first use, budget, guard, resume after an escalation */
  const general = (c: Strategies.Call<S>): Effect.Effect<Result, unknown, any> =>
    Effect.gen(function*() {
      const { config, state } = c
      const breaker = yield* getBreaker
      const budget = budgetOption === undefined ? undefined : yield* getBudget
      const runId = yield* CascadeGuard.currentRun
      const guard = guardSpec === undefined ? undefined : yield* CascadeGuard.CascadeGuard
      const { masked, state: visible } = guard === undefined || reads.length === 0
        ? { masked: [], state }
        : yield* guard.mask(reads, state)
      const quarantined = masked.map((m) => m.key)

      const escalation = LG.pendingEscalation(config)
      const exit = yield* Effect.exit(
        escalation !== undefined
          // resumed after an escalation by interrupt(): the human answers; the failed node is not called again
          ? Effect.map(
            Strategies.call(() => LG.answerOf(config, escalation)),
            (update): Answer => ({
              update,
              served: { strategy: "escalate", traceback: escalation.traceback, error: escalation.error },
              contaminated: false
            })
          )
          : recover(c, guard, visible, breaker, budget)
      )
      if (Exit.isFailure(exit) && isControlFlowCause(exit.cause)) return yield* Effect.failCause(exit.cause)
      return yield* finish(c, runId, quarantined, Exit.isSuccess(exit) ? exit.value : unanswered(exit.cause), breaker)
    })

  /**
   * The common case in few Effect steps (docs/performance.md, "protectNode in a graph"): the
   * breaker exists, no budget, no guard, no escalation to resume — the same answers as `general`.
   */
  const direct = (c: Strategies.Call<S>, breaker: CircuitBreaker.CircuitBreaker, runId: string) =>
    Effect.matchCauseEffect(
      recover(c, undefined, c.state, breaker, undefined),
      handlers(
        (answer: Answer) => finish(c, runId, noKeys, answer, breaker),
        (cause: Cause.Cause<unknown>) =>
          isControlFlowCause(cause) ? Effect.failCause(cause) : finish(c, runId, noKeys, unanswered(cause), breaker)
      )
    )

  const program = (state: S, config: LangGraphRunnableConfig): Effect.Effect<Result, unknown, any> =>
    Effect.withFiberRuntime((fiber) => {
      const c: Strategies.Call<S> = { state, config, node: LG.nodeName(config, name) }
      const breaker = resolved
      const body = breaker !== undefined && budgetOption === undefined && guardSpec === undefined &&
          LG.pendingEscalation(config) === undefined
        ? direct(c, breaker, fiber.getFiberRef(CascadeGuard.currentRun))
        : general(c)
      // no tracer installed (Effect's default, which exports nowhere): no span to make
      const tracer = Context.get(fiber.getFiberRef(DefaultServices.currentServices), Tracer.Tracer)
      if (tracer === defaultTracer) return body
      return body.pipe(
        Effect.tap(({ outcome }) =>
          Effect.annotateCurrentSpan(
            outcome.fallback === undefined
              ? { [SPAN_OUTCOME]: outcome.outcome }
              : { [SPAN_OUTCOME]: outcome.outcome, [SPAN_FALLBACK]: outcome.fallback }
          )
        ),
        Effect.withSpan(NODE_SPAN, {
          attributes: { [SPAN_NODE]: c.node, [SPAN_BREAKER]: name },
          // a stack trace per call costs more than the rest of the span (docs/performance.md)
          captureStackTrace: false
        })
      )
    })

  /** node under breaker (and guard), then the fallback strategy */
  const recover = (
    c: Strategies.Call<S>,
    guard: CascadeGuard.CascadeGuard | undefined,
    visible: S,
    breaker: CircuitBreaker.CircuitBreaker,
    budget: Budget.Budget | undefined
  ): Effect.Effect<Answer, unknown, any> => {
    // the budget goes around this attempt (below): refused before the breaker is asked,
    // charged from the AI messages of the update after it
    // our breakers leave the call timeout to callNode (no child fiber for a plain async node)
    const timed = selfTimed(breaker)
    const node = callNode(visible, c, timed)
    const called = budget === undefined ? node : Effect.tap(node, charge)
    const attempt = timed === undefined ? CircuitBreaker.withBreaker(called, breaker) : timed.run(called)
    const onSuccess = strategy.onSuccess
    const unguarded = guard === undefined || guardSpec === undefined
    // the common case (no guard, no budget) in one step: the answer, and the cache's store
    const checked = !unguarded
      ? guarded(guard, guardSpec, attempt)
      : onSuccess === undefined || budget !== undefined
      ? Effect.map(attempt, (update) => answered(update))
      : Effect.flatMap(attempt, (update) => Effect.as(onSuccess(update, c), answered(update)))
    // outside the breaker and the guard: a refusal is not the node's failure, and the node never runs
    const budgeted = budget === undefined ? checked : Budget.withBudget(checked, budget, { node: c.node })
    return budgeted.pipe(
      onSuccess === undefined || (unguarded && budget === undefined)
        ? (self) => self
        : Effect.tap((a: Answer) => (a.contaminated ? Effect.void : onSuccess(a.update, c))),
      Effect.catchAllCause((cause) =>
        Effect.map(strategy.recover(Effect.failCause(cause), c), (update): Answer => ({
          update,
          served: { strategy: strategy.name, traceback: prettyCause(cause), error: describeCause(cause) },
          contaminated: false,
          refusal: refusalOf(cause)
        }))
      )
    )
  }

  // the bridge's run that answers at once when the program did not suspend (a bridge of ours has it)
  const runNow: RunNowFn<R> = (bridge as { readonly [RunNow]?: RunNowFn<R> })[RunNow] ?? bridge.run
  type Answered = Protected<U | F> | Markers

  /** the node's update once the program answered: the custom event first, when the run has callbacks */
  const respond = (result: Result, cfg: LangGraphRunnableConfig): Promise<Answered> => {
    if (result.breakerState === undefined) {
      options.onOutcome?.(result.outcome)
      return Promise.resolve(result.update as Answered)
    }
    const { budget, fallback, node, outcome } = result.outcome
    const event: NodeEvent = {
      node,
      outcome,
      ...(fallback === undefined ? {} : { fallback }),
      state: result.breakerState,
      ...(budget === undefined ? {} : { budget })
    }
    return LG.emitEvent(cfg, event).then(() => {
      options.onOutcome?.(result.outcome)
      return result.update as Answered
    })
  }

  return (state, config) => {
    const cfg = config ?? {}
    try {
      const result = runNow(program(state, cfg), cfg)
      return result instanceof Promise ? result.then((r) => respond(r, cfg)) : respond(result, cfg)
    } catch (e) {
      // as from an async function: what the bridge rethrows (LangGraph control flow) or onOutcome throws
      return Promise.reject(e)
    }
  }
}
