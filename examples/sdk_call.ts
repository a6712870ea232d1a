/**
 * An LLM SDK call (a promise that honours an AbortSignal) through a breaker
 * with `CircuitBreaker.tryPromise`: at `callTimeout` the SDK's signal is
 * aborted and the call fails with `CallTimeoutError`, which a fallback turns
 * into a cheaper answer. No child fiber is made for the timeout.
 * Run: npx tsx examples/sdk_call.ts
 */
import { CircuitBreaker, Fallback, Ledger } from "agentarmour"
import { Effect } from "effect"

/** a fake SDK: answers at once, except for "slow" prompts, which hang until aborted */
export const aborted: Array<unknown> = []
const complete = (prompt: string, options: { readonly signal: AbortSignal }): Promise<string> =>
  prompt.startsWith("slow")
    ? new Promise((_resolve, reject) => {
      options.signal.addEventListener("abort", () => {
        aborted.push(options.signal.reason)
        reject(options.signal.reason)
      })
    })
    : Promise.resolve(`completion of "${prompt}"`)

export const program = Effect.gen(function*() {
  const breaker = yield* CircuitBreaker.make({ name: "writer", callTimeout: "2 seconds" })
  const ask = (prompt: string) =>
    CircuitBreaker.tryPromise(breaker, {
      try: (signal) => complete(prompt, { signal }),
      catch: (error) => ({ _tag: "SdkError" as const, error })
    }).pipe(
      Fallback.degrade(() => Effect.succeed(`(cheap model) a short answer to "${prompt}"`), {
        only: ["CallTimeoutError"]
      })
    )
  const answers = [yield* ask("a haiku about breakers"), yield* ask("slow: an essay about breakers")]
  const m = yield* breaker.metrics
  return [...answers, `calls ${m.totalCalls}, timeouts ${m.timeouts}`]
}).pipe(Effect.provide(Ledger.layerMemory))

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then((lines) => console.log(lines.join("\n")))
}
