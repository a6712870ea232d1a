/**
 * CascadeGuard: an extractor fails in run "thread-1"; the analyser of that
 * run sees `undefined` instead of stale entities, while run "thread-2" is
 * untouched. Run: npx tsx examples/guard.ts
 */
import { CascadeGuard, Ledger } from "agentarmour"
import { Effect, Layer, Schema } from "effect"

interface State extends Record<string, unknown> {
  readonly document: string
  readonly entities?: ReadonlyArray<string> | undefined
  readonly analysis?: string | undefined
}

export const program = Effect.gen(function*() {
  const guard = yield* CascadeGuard.CascadeGuard
  const lines: Array<string> = []

  const extract = guard.protectNode<State, Error, never>(
    "extract",
    {
      quarantineOnFailure: ["entities"],
      readsFrom: ["document"],
      validate: Schema.Struct({ entities: Schema.Array(Schema.String) })
    },
    (state) =>
      Effect.flatMap(CascadeGuard.currentRun, (run) =>
        run === "thread-1"
          ? Effect.fail(new Error("extractor timed out"))
          : Effect.succeed({ entities: state.document.split(" ").filter((w) => /^[A-Z]/.test(w)) }))
  )
  const analyse = guard.protectNode<State, never, never>(
    "analyse",
    { readsFrom: ["entities"] },
    (state) =>
      Effect.succeed({
        analysis: state.entities === undefined
          ? "entities unavailable: upstream agent degraded"
          : `found ${state.entities.length} entities`
      })
  )

  for (const run of ["thread-1", "thread-2"]) {
    // stale entities from an earlier step are still in the shared state
    const state: State = { document: "Ada Lovelace met Charles Babbage", entities: ["STALE"] }
    const extracted = yield* Effect.either(extract(state)).pipe(CascadeGuard.withRun(run))
    const next = extracted._tag === "Right" ? { ...state, ...extracted.right } : state
    const { analysis } = yield* analyse(next).pipe(CascadeGuard.withRun(run))
    lines.push(`${run}: ${analysis}`)
  }
  const ledger = yield* Ledger.Ledger
  for (const q of yield* ledger.quarantines!()) lines.push(`ledger: ${q.action} ${q.key} in ${q.runId} (${q.reason})`)
  return lines
}).pipe(Effect.provide(CascadeGuard.layer({ quarantineTtl: "5 minutes" }).pipe(Layer.provideMerge(Ledger.layerMemory))))

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then((lines) => console.log(lines.join("\n")))
}
