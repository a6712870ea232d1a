/**
 * agentarmour without LangGraph: a flaky agent behind a breaker, with a
 * cache and a backup agent, and the in-memory ledger.
 * Run: npx tsx examples/basic_usage.ts
 */
import { CircuitBreaker, Fallback, Ledger, withBreaker } from "agentarmour"
import { Effect } from "effect"

class ModelError {
  readonly _tag = "ModelError"
  constructor(readonly message: string) {}
}

let call = 0
/** a fake LLM agent: fine at first, then its provider goes down */
const researchAgent = (query: string) =>
  Effect.suspend(() => {
    call++
    return call <= 2
      ? Effect.succeed(`findings on ${query} (#${call})`)
      : Effect.fail(new ModelError("provider returned 503"))
  })

export const program = Effect.gen(function*() {
  const breaker = yield* CircuitBreaker.make({ name: "research", failureThreshold: 2, recoveryTimeout: "30 seconds" })
  const cache = yield* Fallback.makeCache<string>({ maxAge: "5 minutes" })
  const research = (query: string) =>
    researchAgent(query).pipe(
      withBreaker(breaker),
      Fallback.cache(cache, { key: query }),
      Fallback.degrade(() => Effect.succeed(`(cheap model) a guess about ${query}`))
    )

  const answers: Array<string> = []
  for (const query of ["breakers", "breakers", "breakers", "fallbacks", "breakers"]) {
    answers.push(`${query}: ${yield* research(query)}  [breaker ${yield* breaker.state}]`)
  }
  const ledger = yield* Ledger.Ledger
  const transitions = yield* ledger.transitions()
  for (const t of transitions) answers.push(`transition ${t.fromState} -> ${t.toState}: ${t.reason}`)
  return answers
}).pipe(Effect.provide(Ledger.layerMemory))

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then((lines) => console.log(lines.join("\n")))
}
