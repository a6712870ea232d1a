/**
 * LangGraph nodes written as Effects, with their services (a fake LLM
 * client, the SQLite ledger) provided once through the bridge's layer.
 * Run: npx tsx examples/effect_nodes.ts
 */
import { Annotation, END, START, StateGraph } from "@langchain/langgraph"
import { CascadeGuard, Ledger } from "agentarmour"
import { CascadeAnnotation, LangGraphBridge, protectNode } from "agentarmour/langgraph"
import { Context, Effect, Layer } from "effect"

/** the LLM client the nodes need: a service, swapped for a fake here */
class Llm extends Context.Tag("examples/Llm")<Llm, {
  readonly complete: (prompt: string) => Effect.Effect<string, LlmError>
}>() {}
class LlmError {
  readonly _tag = "LlmError"
  constructor(readonly message: string) {}
}
const FakeLlm = Layer.succeed(Llm, {
  complete: (prompt) =>
    prompt.includes("poison")
      ? Effect.fail(new LlmError("content filter tripped"))
      : Effect.succeed(`a thoughtful answer to "${prompt}"`)
})

const State = Annotation.Root({
  ...CascadeAnnotation,
  question: Annotation<string>(),
  draft: Annotation<string | undefined>(),
  answer: Annotation<string | undefined>()
})
type S = typeof State.State

export const main = async (questions: ReadonlyArray<string> = ["what is a circuit breaker?", "poison pill"]) => {
  const bridge = LangGraphBridge.make(
    Layer.mergeAll(FakeLlm, CascadeGuard.layer().pipe(Layer.provideMerge(Ledger.layerMemory)))
  )

  // an Effect node through bridge.node: failures are rethrown to LangGraph as the original error
  const draft = bridge.node((state: S) =>
    Effect.gen(function*() {
      const llm = yield* Llm
      return { draft: yield* Effect.orElseSucceed(llm.complete(state.question), () => "no draft") }
    })
  )
  // an Effect node through protectNode: breaker, guard and a degrade fallback
  const answer = protectNode(bridge, (state: S) =>
    Effect.gen(function*() {
      const llm = yield* Llm
      return { answer: yield* llm.complete(`polish: ${state.draft} ${state.question}`) }
    }), {
    breaker: { name: "answer", failureThreshold: 2 },
    fallback: {
      degrade: (state: S) => Effect.succeed({ answer: `(fallback) I could not answer "${state.question}"` })
    },
    guard: { quarantineOnFailure: ["answer"], readsFrom: ["draft"] }
  })

  const graph = new StateGraph(State)
    .addNode("drafter", draft)
    .addNode("answerer", answer)
    .addEdge(START, "drafter")
    .addEdge("drafter", "answerer")
    .addEdge("answerer", END)
    .compile()

  const results: Array<string> = []
  for (const [i, question] of questions.entries()) {
    const out = await graph.invoke({ question }, { configurable: { thread_id: `q-${i}` } })
    results.push(
      `${question} -> ${out.answer}${
        out.__cascadebreaker_fallback__ ? ` [fallback: ${out.__cascadebreaker_fallback__}]` : ""
      }`
    )
  }
  await bridge.dispose()
  return results
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then((lines) => console.log(lines.join("\n")))
}
