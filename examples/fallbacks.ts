/**
 * The four fallback strategies, one after the other, on fake agents.
 * Run: npx tsx examples/fallbacks.ts
 */
import { CircuitBreaker, Fallback, Ledger, withBreaker } from "agentarmour"
import { Effect, Option } from "effect"

class AgentDown {
  readonly _tag = "AgentDown"
  readonly message = "the research agent is down"
}
const flakyResearch = (healthy: boolean) =>
  healthy ? Effect.succeed("3 papers on circuit breakers") : Effect.fail(new AgentDown())

export const program = Effect.gen(function*() {
  const lines: Array<string> = []
  const breaker = yield* CircuitBreaker.make({ name: "research", failureThreshold: 2 })

  // 1. cache: the last good answer, if younger than maxAge
  const store = yield* Fallback.makeCache<string>({ maxAge: "5 minutes" })
  const cached = (healthy: boolean) =>
    flakyResearch(healthy).pipe(withBreaker(breaker), Fallback.cache(store, { key: "research" }))
  lines.push(`cache, healthy:  ${yield* cached(true)}`)
  lines.push(`cache, failing:  ${yield* cached(false)}`)

  // 2. degrade: a cheaper backup agent
  const degraded = flakyResearch(false).pipe(
    withBreaker(breaker),
    Fallback.degrade(() => Effect.succeed("1 paper (cheap model)"), { confidence: 0.6 })
  )
  lines.push(`degrade:         ${yield* degraded}`)

  // 3. escalate: ask a human (here: an on-call bot that answers at once)
  const escalated = flakyResearch(false).pipe(
    withBreaker(breaker),
    Fallback.escalate((ctx) => Effect.succeed(Option.some(`on-call answered for ${ctx.breaker}`)), {
      timeout: "10 seconds"
    })
  )
  lines.push(`escalate:        ${yield* escalated}`)

  // 4. decompose: split the task into pieces that each succeed
  const decomposed = flakyResearch(false).pipe(
    withBreaker(breaker),
    Fallback.decompose(
      () => Effect.succeed(["breakers", "fallbacks", "guards"]),
      (topic) => Effect.succeed(`1 paper on ${topic}`),
      (parts) => parts.join("; "),
      { concurrency: 2 }
    )
  )
  lines.push(`decompose:       ${yield* decomposed}`)

  const ledger = yield* Ledger.Ledger
  const [summary] = yield* ledger.summary
  lines.push(`breaker "research" is ${summary!.state}, fallbacks served: ${summary!.fallbacksServed}`)
  return lines
}).pipe(Effect.provide(Ledger.layerMemory))

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then((lines) => console.log(lines.join("\n")))
}
