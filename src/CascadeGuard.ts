/**
 * CascadeGuard: stops one agent's failure — or its garbage — from flowing
 * into the next agent through shared state.
 *
 * When a protected node fails, or "succeeds" with output that does not
 * decode with its `validate` Schema (or repeats itself `maxRepeats` times),
 * the state keys it writes are quarantined **in the current run** for
 * `quarantineTtl`. A node that reads a quarantined key through `readsFrom`
 * sees `undefined` instead. A later success of the writing node, `release`,
 * or the TTL lifts the quarantine.
 *
 * The run is a `FiberRef` (`CascadeGuard.withRun(runId)`; the LangGraph
 * adapter sets it from `thread_id`), so concurrent runs never see each
 * other's quarantines.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"

import * as duration from "./internal/duration.js"
import * as Ledger from "./Ledger.js"

/**
 * The run the current fiber works for (default `"default"`).
 *
 * @since 0.1.0
 * @category fiber refs
 */
export const currentRun: FiberRef.FiberRef<string> = globalValue(
  Symbol.for("agentarmour/CurrentRun"),
  () => FiberRef.unsafeMake("default")
)

/**
 * Runs `self` as part of run `runId`: quarantines it causes or sees are
 * those of that run only. Dual.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRun: {
  (runId: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, runId: string): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, runId: string) => Effect.locally(self, currentRun, runId))

/**
 * A quarantined key of the current run.
 *
 * @since 0.1.0
 * @category models
 */
export interface QuarantineEntry {
  readonly runId: string
  readonly key: string
  /** the node whose failure or output caused it */
  readonly node: string
  readonly reason: string
  readonly until: Date
}

/**
 * How a node is protected.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeSpec<S> {
  /** the keys this node writes: quarantined when it fails or its output is rejected */
  readonly quarantineOnFailure?: ReadonlyArray<keyof S & string> | undefined
  /** the keys this node reads: a quarantined one is passed as `undefined` */
  readonly readsFrom?: ReadonlyArray<keyof S & string> | undefined
  /** the Schema the node's update must decode with; output that does not is contamination */
  readonly validate?: Schema.Schema<any, any, never> | undefined
  /** contamination when the node returns the same output this many times in a row in one run */
  readonly maxRepeats?: number | undefined
}

/**
 * The verdict on a node's successful output.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict =
  | { readonly _tag: "Clean" }
  | { readonly _tag: "Contaminated"; readonly errorType: string; readonly reason: string }

/**
 * @since 0.1.0
 * @category models
 */
export interface CascadeGuard {
  /** wraps a node: masks what it reads, quarantines what it writes when it fails or misbehaves */
  readonly protectNode: <S extends Record<string, unknown>, E, R>(
    name: string,
    spec: NodeSpec<S>,
    node: (state: S) => Effect.Effect<Partial<S>, E, R>
  ) => (state: S) => Effect.Effect<Partial<S>, E, R>
  /** the quarantines of the current run */
  readonly quarantined: Effect.Effect<ReadonlyArray<QuarantineEntry>>
  /** lifts the quarantine of `key` in the current run */
  readonly release: (key: string) => Effect.Effect<void>
  /** `state` with the quarantined `readsFrom` keys set to `undefined`, and what was masked */
  readonly mask: <S extends Record<string, unknown>>(
    readsFrom: ReadonlyArray<string>,
    state: S
  ) => Effect.Effect<{ readonly state: S; readonly masked: ReadonlyArray<QuarantineEntry> }>
  /** quarantines `keys` in the current run on behalf of `node` */
  readonly quarantine: (node: string, keys: ReadonlyArray<string>, reason: string) => Effect.Effect<void>
  /** lifts the quarantines `node` caused in the current run (it succeeded) */
  readonly lift: (node: string) => Effect.Effect<void>
  /** checks a successful output against `validate` and `maxRepeats` (records contamination) */
  readonly inspect: (name: string, spec: NodeSpec<any>, output: unknown) => Effect.Effect<Verdict>
  /** how many runs and entries are held (quarantines and repeat trackers) */
  readonly size: Effect.Effect<{ readonly runs: number; readonly entries: number }>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const CascadeGuard: Context.Tag<CascadeGuard, CascadeGuard> = Context.GenericTag<CascadeGuard>(
  "agentarmour/CascadeGuard"
)

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** how long a quarantine lasts unless lifted (default 300 seconds) */
  readonly quarantineTtl?: Duration.DurationInput | undefined
}

interface Entry {
  readonly node: string
  readonly reason: string
  readonly until: number
}

interface RunState {
  readonly quarantines: Map<string, Entry>
  /** node -> last output and how many times in a row it came */
  readonly repeats: Map<string, { readonly output: string; readonly count: number; readonly until: number }>
}

const keysOf = (output: unknown): ReadonlyArray<string> =>
  typeof output === "object" && output !== null ? Object.keys(output) : []

const stableJson = (u: unknown): string => {
  try {
    return JSON.stringify(u, (_, v) =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v) ?? "undefined"
  } catch {
    return String(u)
  }
}

/** `owner` is the constructor the user called, named in the message of a bad option */
const build = (owner: string, options?: Options): Effect.Effect<CascadeGuard, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { quarantineTtl: ttl } = yield* Effect.orDie(
      duration.decodeOptions(owner, { quarantineTtl: options?.quarantineTtl ?? "300 seconds" })
    )
    const ttlMillis = Duration.toMillis(ttl)
    const ledger = yield* Effect.serviceOption(Ledger.Ledger)
    const runs = new Map<string, RunState>()

    const record = (
      runId: string,
      key: string,
      node: string,
      action: "quarantine" | "release" | "expire",
      reason: string,
      at: number
    ): Effect.Effect<void> =>
      Option.isSome(ledger) && ledger.value.recordQuarantine !== undefined
        ? Effect.catchAllCause(
          ledger.value.recordQuarantine(
            new Ledger.QuarantineRecord({ runId, key, node, action, reason, createdAt: new Date(at) })
          ),
          () => Effect.void
        )
        : Effect.void

    /** removes what has expired in one run; returns the expiry records to write */
    const expire = (runId: string, run: RunState, now: number, out: Array<Effect.Effect<void>>) => {
      for (const [key, entry] of run.quarantines) {
        if (entry.until <= now) {
          run.quarantines.delete(key)
          out.push(record(runId, key, entry.node, "expire", `quarantine TTL of ${Duration.format(ttl)} ran out`, now))
        }
      }
      for (const [node, r] of run.repeats) if (r.until <= now) run.repeats.delete(node)
      if (run.quarantines.size === 0 && run.repeats.size === 0) runs.delete(runId)
    }

    const sweep = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const out: Array<Effect.Effect<void>> = []
      for (const [runId, run] of runs) expire(runId, run, now, out)
      return Effect.all(out, { discard: true })
    })
    yield* Effect.forkScoped(
      Effect.repeat(sweep, Schedule.spaced(Duration.millis(Math.max(1000, Math.min(ttlMillis, 60_000)))))
    )

    /** the run state of the current run, with expired entries removed */
    const withCurrentRun = <A>(
      f: (runId: string, run: RunState | undefined, now: number) => [A, Array<Effect.Effect<void>>]
    ) =>
      Effect.flatMap(FiberRef.get(currentRun), (runId) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const out: Array<Effect.Effect<void>> = []
          const existing = runs.get(runId)
          if (existing !== undefined) expire(runId, existing, now, out)
          const [a, more] = f(runId, runs.get(runId), now)
          return Effect.as(Effect.all([...out, ...more], { discard: true }), a)
        }))

    const runState = (runId: string): RunState => {
      let run = runs.get(runId)
      if (run === undefined) {
        run = { quarantines: new Map(), repeats: new Map() }
        runs.set(runId, run)
      }
      return run
    }

    const toEntry = (runId: string, key: string, e: Entry): QuarantineEntry => ({
      runId,
      key,
      node: e.node,
      reason: e.reason,
      until: new Date(e.until)
    })

    const quarantine = (node: string, keys: ReadonlyArray<string>, reason: string) =>
      withCurrentRun((runId, _, now) => {
        if (keys.length === 0) return [undefined, []]
        const run = runState(runId)
        const until = now + ttlMillis
        return [
          undefined,
          keys.map((key) => {
            run.quarantines.set(key, { node, reason, until })
            return record(runId, key, node, "quarantine", reason, now)
          })
        ]
      })

    const lift = (node: string) =>
      withCurrentRun((runId, run, now) => {
        if (run === undefined) return [undefined, []]
        const out: Array<Effect.Effect<void>> = []
        for (const [key, entry] of run.quarantines) {
          if (entry.node === node) {
            run.quarantines.delete(key)
            out.push(record(runId, key, node, "release", `${node} succeeded`, now))
          }
        }
        return [undefined, out]
      })

    const release = (key: string) =>
      withCurrentRun((runId, run, now) => {
        const entry = run?.quarantines.get(key)
        if (run === undefined || entry === undefined) return [undefined, []]
        run.quarantines.delete(key)
        return [undefined, [record(runId, key, entry.node, "release", "released by hand", now)]]
      })

    const quarantined = withCurrentRun((runId, run) => [
      run === undefined ? [] : Array.from(run.quarantines, ([key, e]) => toEntry(runId, key, e)),
      []
    ])

    const mask = <S extends Record<string, unknown>>(readsFrom: ReadonlyArray<string>, state: S) =>
      withCurrentRun((runId, run) => {
        if (run === undefined || run.quarantines.size === 0 || readsFrom.length === 0) {
          return [{ state, masked: [] as ReadonlyArray<QuarantineEntry> }, []]
        }
        const masked: Array<QuarantineEntry> = []
        let copy: Record<string, unknown> | undefined
        for (const key of readsFrom) {
          const entry = run.quarantines.get(key)
          if (entry === undefined) continue
          copy ??= { ...state }
          copy[key] = undefined
          masked.push(toEntry(runId, key, entry))
        }
        return [{ state: (copy ?? state) as S, masked }, []]
      })

    const contamination = (name: string, errorType: string, reason: string, at: number) =>
      Option.isSome(ledger)
        ? Effect.catchAllCause(
          ledger.value.recordFailure(
            new Ledger.FailureRecord({
              breakerName: name,
              category: "contamination",
              errorType,
              errorMessage: reason,
              traceback: "",
              createdAt: new Date(at)
            })
          ),
          () => Effect.void
        )
        : Effect.void

    const inspect = (name: string, spec: NodeSpec<any>, output: unknown): Effect.Effect<Verdict> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (spec.validate !== undefined) {
          const decoded = yield* Effect.either(Schema.decodeUnknown(spec.validate, { errors: "all" })(output))
          if (decoded._tag === "Left") {
            const reason = `output of ${name} failed validation: ${
              ParseResult.TreeFormatter.formatErrorSync(decoded.left)
            }`
            yield* contamination(name, "ParseError", reason, now)
            return { _tag: "Contaminated", errorType: "ParseError", reason } as const
          }
        }
        const maxRepeats = spec.maxRepeats
        if (maxRepeats !== undefined && maxRepeats > 0) {
          const verdict = yield* withCurrentRun((runId, _, now): [Verdict, Array<Effect.Effect<void>>] => {
            const run = runState(runId)
            const json = stableJson(output)
            const previous = run.repeats.get(name)
            const count = previous !== undefined && previous.output === json ? previous.count + 1 : 1
            run.repeats.set(name, { output: json, count, until: now + ttlMillis })
            if (count >= maxRepeats) {
              return [{
                _tag: "Contaminated",
                errorType: "RepeatedOutput",
                reason:
                  `${name} produced the same output ${count} times in a row (maxRepeats ${maxRepeats}): likely a loop`
              }, []]
            }
            return [{ _tag: "Clean" }, []]
          })
          if (verdict._tag === "Contaminated") yield* contamination(name, verdict.errorType, verdict.reason, now)
          return verdict
        }
        return { _tag: "Clean" } as const
      })

    const protectNode = <S extends Record<string, unknown>, E, R>(
      name: string,
      spec: NodeSpec<S>,
      node: (state: S) => Effect.Effect<Partial<S>, E, R>
    ) => {
      const writes: ReadonlyArray<string> = spec.quarantineOnFailure ?? []
      const reads: ReadonlyArray<string> = spec.readsFrom ?? []
      return (state: S): Effect.Effect<Partial<S>, E, R> =>
        Effect.flatMap(
          mask(reads, state),
          ({ state: visible }) =>
            Effect.matchCauseEffect(Effect.suspend(() => node(visible)), {
              onFailure: (cause) =>
                Cause.isInterruptedOnly(cause)
                  ? Effect.failCause(cause)
                  : Effect.zipRight(
                    quarantine(name, writes, `${name} failed: ${Cause.pretty(cause).split("\n")[0]}`),
                    Effect.failCause(cause)
                  ),
              onSuccess: (output) =>
                Effect.flatMap(inspect(name, spec, output), (verdict): Effect.Effect<Partial<S>> => {
                  if (verdict._tag === "Clean") return Effect.as(lift(name), output)
                  // the bad values never travel downstream: drop every key the node wrote
                  const bad = Array.from(new Set([...writes, ...keysOf(output)]))
                  const clean: Record<string, unknown> = { ...output }
                  for (const key of bad) delete clean[key]
                  return Effect.as(quarantine(name, bad, verdict.reason), clean as Partial<S>)
                })
            })
        )
    }

    const size = Effect.sync(() => {
      let entries = 0
      for (const run of runs.values()) entries += run.quarantines.size + run.repeats.size
      return { runs: runs.size, entries }
    })

    return CascadeGuard.of({ protectNode, quarantined, release, mask, quarantine, lift, inspect, size })
  })

/**
 * Builds the guard. Forks a sweeper into the scope that removes expired
 * entries, so memory does not grow with the number of runs.
 *
 * A `quarantineTtl` that is negative, NaN, infinite or unparsable is a
 * programming error: the effect dies with a `ParseError` whose message names
 * the option (`CascadeGuard.make: quarantineTtl must be a non-negative
 * duration, got -5`). It is a defect, not a failure, so that `make` keeps the
 * error-free type `layer` (typed `Layer<CascadeGuard>` by the contract) and
 * the LangGraph bridge build on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<CascadeGuard, never, Scope.Scope> =>
  build("CascadeGuard.make", options)

/**
 * The guard as a layer; uses the `Ledger` when one is provided.
 *
 * A bad `quarantineTtl` (negative, NaN, infinite, unparsable) makes the layer
 * die while it is built, with a `ParseError` naming the option
 * (`CascadeGuard.layer: quarantineTtl must be a non-negative duration, got
 * -5`): the contract types the layer `Layer<CascadeGuard>`, without an error
 * channel, and a bad option is a programming error.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<CascadeGuard> =>
  Layer.scoped(CascadeGuard, build("CascadeGuard.layer", options))
