import { describe, expect, it } from "@effect/vitest"
import { CascadeGuard, Ledger } from "agentarmour"
import { Cause, Deferred, Effect, Fiber, Layer, Option, Schema, TestClock } from "effect"

interface State extends Record<string, unknown> {
  readonly document?: string
  readonly entities?: ReadonlyArray<string>
  readonly analysis?: string
}

const guardLayer = CascadeGuard.layer({ quarantineTtl: "300 seconds" }).pipe(Layer.provideMerge(Ledger.layerMemory))

const setup = Effect.gen(function*() {
  const guard = yield* CascadeGuard.CascadeGuard
  let extractFails = true
  const extract = guard.protectNode<State, string, never>(
    "extract",
    { quarantineOnFailure: ["entities"], readsFrom: ["document"] },
    () => extractFails ? Effect.fail("extractor crashed") : Effect.succeed({ entities: ["Ada", "Alan"] })
  )
  const seen: Array<unknown> = []
  const analyse = guard.protectNode<State, never, never>(
    "analyse",
    { readsFrom: ["entities"] },
    (state) => {
      seen.push(state.entities)
      return Effect.succeed({
        analysis: state.entities === undefined ? "entities unavailable" : `${state.entities.length} entities`
      })
    }
  )
  return { guard, extract, analyse, seen, heal: () => (extractFails = false) }
})

const garbage: State = { document: "doc", entities: ["GARBAGE FROM A HALF-WRITTEN RUN"] }

describe("CascadeGuard", () => {
  it.effect("a failing node quarantines the keys it writes and a reader sees undefined", () =>
    Effect.gen(function*() {
      const { analyse, extract, guard, seen } = yield* setup
      yield* Effect.either(extract(garbage))
      const [entry] = yield* guard.quarantined
      expect(entry).toMatchObject({ key: "entities", node: "extract", runId: "default" })
      expect(entry!.reason).toContain("extractor crashed")
      const update = yield* analyse(garbage)
      expect(seen).toEqual([undefined])
      expect(update.analysis).toBe("entities unavailable")
    }).pipe(Effect.provide(guardLayer)))

  it.effect("masking leaves the rest of the state untouched", () =>
    Effect.gen(function*() {
      const { extract, guard } = yield* setup
      yield* Effect.either(extract(garbage))
      const { masked, state } = yield* guard.mask(["entities", "document"], garbage)
      expect(state).toEqual({ document: "doc", entities: undefined })
      expect(masked.map((m) => m.key)).toEqual(["entities"])
      expect(garbage.entities).toHaveLength(1) // the caller's object is not mutated
    }).pipe(Effect.provide(guardLayer)))

  it.effect("the quarantine expires after its TTL", () =>
    Effect.gen(function*() {
      const { analyse, extract, seen } = yield* setup
      yield* Effect.either(extract(garbage))
      yield* TestClock.adjust("299 seconds")
      yield* analyse(garbage)
      yield* TestClock.adjust("1 second")
      yield* analyse(garbage)
      expect(seen).toEqual([undefined, garbage.entities])
    }).pipe(Effect.provide(guardLayer)))

  it.effect("a later success of the writing node lifts the quarantine", () =>
    Effect.gen(function*() {
      const { analyse, extract, guard, heal, seen } = yield* setup
      yield* Effect.either(extract(garbage))
      heal()
      yield* extract(garbage)
      expect(yield* guard.quarantined).toEqual([])
      yield* analyse({ ...garbage, entities: ["Ada", "Alan"] })
      expect(seen).toEqual([["Ada", "Alan"]])
    }).pipe(Effect.provide(guardLayer)))

  it.effect("release lifts a quarantine by hand", () =>
    Effect.gen(function*() {
      const { extract, guard } = yield* setup
      yield* Effect.either(extract(garbage))
      yield* guard.release("entities")
      expect(yield* guard.quarantined).toEqual([])
    }).pipe(Effect.provide(guardLayer)))

  it.effect("quarantines and releases are recorded in the ledger", () =>
    Effect.gen(function*() {
      const { extract, heal } = yield* setup
      const ledger = yield* Ledger.Ledger
      yield* Effect.either(extract(garbage).pipe(CascadeGuard.withRun("thread-1")))
      heal()
      yield* extract(garbage).pipe(CascadeGuard.withRun("thread-1"))
      const records = yield* ledger.quarantines!()
      expect(records.map((r) => `${r.action}:${r.key}:${r.runId}`)).toEqual([
        "release:entities:thread-1",
        "quarantine:entities:thread-1"
      ])
    }).pipe(Effect.provide(guardLayer)))

  it.effect("two concurrent runs never see each other's quarantine", () =>
    Effect.gen(function*() {
      const guard = yield* CascadeGuard.CascadeGuard
      const gate = yield* Deferred.make<void>()
      const extract = guard.protectNode<State, string, never>(
        "extract",
        { quarantineOnFailure: ["entities"] },
        () =>
          Effect.flatMap(CascadeGuard.currentRun, (run) =>
            run === "A" ? Effect.fail("A broke") : Effect.succeed({ entities: ["ok"] }))
      )
      const seen: Record<string, unknown> = {}
      const analyse = guard.protectNode<State, never, never>("analyse", { readsFrom: ["entities"] }, (state) =>
        Effect.flatMap(CascadeGuard.currentRun, (run) =>
          Effect.sync(() => (seen[run] = state.entities)).pipe(Effect.as({}))))
      const pipeline = (run: string) =>
        Effect.either(extract(garbage)).pipe(
          Effect.zipRight(Deferred.await(gate)),
          Effect.zipRight(analyse(garbage)),
          CascadeGuard.withRun(run)
        )
      const a = yield* Effect.fork(pipeline("A"))
      const b = yield* Effect.fork(pipeline("B"))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(a)
      yield* Fiber.join(b)
      expect(seen).toEqual({ A: undefined, B: garbage.entities })
      expect(yield* guard.quarantined).toEqual([]) // the default run saw nothing either
    }).pipe(Effect.provide(guardLayer)))

  it.effect("output that fails validate is contamination: keys quarantined, bad values not passed on, ledger says why", () =>
    Effect.gen(function*() {
      const guard = yield* CascadeGuard.CascadeGuard
      const ledger = yield* Ledger.Ledger
      const extract = guard.protectNode<State, never, never>(
        "extract",
        {
          quarantineOnFailure: ["entities"],
          validate: Schema.Struct({ entities: Schema.Array(Schema.String.pipe(Schema.maxLength(20))) })
        },
        () => Effect.succeed({ entities: ["As an AI language model, I cannot extract entities"], analysis: "x" })
      )
      const update = yield* extract({})
      expect(update).toEqual({})
      expect((yield* guard.quarantined).map((q) => q.key).sort()).toEqual(["analysis", "entities"])
      const [failure] = yield* ledger.failures({ breaker: "extract" })
      expect(failure).toMatchObject({ category: "contamination", errorType: "ParseError" })
      expect(failure!.errorMessage).toContain("entities")
    }).pipe(Effect.provide(guardLayer)))

  it.effect("the same output maxRepeats times in a row in one run is a loop", () =>
    Effect.gen(function*() {
      const guard = yield* CascadeGuard.CascadeGuard
      const planner = guard.protectNode<State, never, never>(
        "planner",
        { quarantineOnFailure: ["analysis"], maxRepeats: 3 },
        () => Effect.succeed({ analysis: "let me think about this again" })
      )
      expect(yield* planner({})).toEqual({ analysis: "let me think about this again" })
      expect(yield* planner({}).pipe(CascadeGuard.withRun("other"))).toEqual({
        analysis: "let me think about this again"
      })
      expect(yield* planner({})).toEqual({ analysis: "let me think about this again" })
      expect(yield* planner({})).toEqual({})
      const [entry] = yield* guard.quarantined
      expect(entry!.reason).toContain("3 times in a row")
    }).pipe(Effect.provide(guardLayer)))

  it.effect("10,000 runs leave no entries behind once their TTL has passed", () =>
    Effect.gen(function*() {
      const guard = yield* CascadeGuard.CascadeGuard
      const flaky = guard.protectNode<State, string, never>(
        "extract",
        { quarantineOnFailure: ["entities"], maxRepeats: 5 },
        () => Effect.fail("down")
      )
      for (let i = 0; i < 10_000; i++) yield* Effect.either(flaky({}).pipe(CascadeGuard.withRun(`run-${i}`)))
      expect(yield* guard.size).toEqual({ runs: 10_000, entries: 10_000 })
      yield* TestClock.adjust("301 seconds")
      expect(yield* guard.size).toEqual({ runs: 0, entries: 0 })
    }).pipe(Effect.provide(CascadeGuard.layer({ quarantineTtl: "300 seconds" }))))

  it.effect("a negative, NaN, infinite or unparsable quarantineTtl dies with a ParseError naming the option", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[unknown, string]> = [
        [-5, "must be a non-negative duration, got -5"],
        ["-1 minute", `must be a non-negative duration, got "-1 minute"`],
        [NaN, "must be a non-negative duration, got NaN"],
        [Infinity, "must be a finite duration, got Infinity"],
        ["soon", `must be a duration such as "30 seconds" or a number of milliseconds, got "soon"`]
      ]
      for (const [quarantineTtl, problem] of cases) {
        const viaLayer = yield* Effect.exit(
          Layer.build(CascadeGuard.layer({ quarantineTtl: quarantineTtl as any })).pipe(Effect.scoped)
        )
        const viaMake = yield* Effect.exit(
          CascadeGuard.make({ quarantineTtl: quarantineTtl as any }).pipe(Effect.scoped)
        )
        for (const [exit, owner] of [[viaLayer, "CascadeGuard.layer"], [viaMake, "CascadeGuard.make"]] as const) {
          const defect = exit._tag === "Failure" ? Cause.dieOption(exit.cause) : Option.none()
          expect(Option.map(defect, (d) => [(d as Error).name, (d as Error).message])).toEqual(
            Option.some(["ParseError", `${owner}: quarantineTtl ${problem}`])
          )
        }
      }
      // 0 is a valid TTL (a quarantine that lifts at once)
      const zero = yield* Effect.exit(Layer.build(CascadeGuard.layer({ quarantineTtl: 0 })).pipe(Effect.scoped))
      expect(zero._tag).toBe("Success")
    }))
})
