/**
 * A researcher that never thinks it has read enough: each round it asks the
 * (fake) expensive model for more, and the graph loops back to it. Without a
 * budget it would loop until LangGraph's recursion limit, spending all the
 * way. A per-run cost budget stops it: once the run has spent $0.02 the next
 * call is refused before it reaches the model, and a cheaper model answers
 * instead — with a final summary, which ends the loop. The spend per node
 * and per run is in the ledger (`ledger.usage`, `agentarmour ledger usage`).
 *
 * Run: npx tsx examples/budget.ts
 */
import { type BaseMessage, HumanMessage } from "@langchain/core/messages"
import { Annotation, END, START, StateGraph } from "@langchain/langgraph"
import { Ledger } from "agentarmour"
import { CascadeAnnotation, LangGraphBridge, type Outcome, protectNode } from "agentarmour/langgraph"
import { SqliteLedger } from "agentarmour/sqlite"
import { AgentMock } from "agentarmour/testing"
import { Effect } from "effect"

/** dollars per million tokens: yours to keep current (agentarmour ships no price list) */
const pricing = {
  "gpt-4o": { inputPer1M: 2.5, outputPer1M: 10 },
  "gpt-4o-mini": { inputPer1M: 0.15, outputPer1M: 0.6 }
}

const State = Annotation.Root({
  ...CascadeAnnotation,
  topic: Annotation<string>(),
  messages: Annotation<Array<BaseMessage>>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  rounds: Annotation<number>({ reducer: (a, b) => a + b, default: () => 0 }),
  summary: Annotation<string | undefined>()
})
type S = typeof State.State

export interface Options {
  /** the SQLite ledger file (default: an in-memory ledger) */
  readonly filename?: string | undefined
  readonly topics?: ReadonlyArray<string> | undefined
  readonly log?: ((line: string) => void) | undefined
}

export const main = async (options: Options = {}) => {
  const log = options.log ?? console.log
  const bridge = LangGraphBridge.make(
    options.filename === undefined ? Ledger.layerMemory : SqliteLedger.layer({ filename: options.filename })
  )
  const outcomes: Array<Outcome> = []

  // the models, scripted (AgentMock): their answers carry the usage_metadata a provider reports
  // the runaway: 1,200 tokens in and 300 out per round on gpt-4o ($0.006), and never done
  const expensive = AgentMock.model(
    Array.from({ length: 20 }, (_, i) => ({ text: `finding #${i + 1}`, usage: { input: 1200, output: 300 } })),
    { name: "gpt-4o" }
  )
  const cheap = AgentMock.model(
    Array.from({ length: 10 }, () => ({ text: "a summary of the findings", usage: { input: 1500, output: 200 } })),
    { name: "gpt-4o-mini" }
  )
  const research = async (state: S) => ({
    messages: [await expensive.invoke([new HumanMessage(`find more on ${state.topic}`)])],
    rounds: 1
  })
  // the cheaper path: gpt-4o-mini writes the summary from what was found so far
  const cheapSummary = async (state: S) => ({
    messages: [await cheap.invoke([new HumanMessage(`summarise ${state.rounds} findings on ${state.topic}`)])],
    summary: `${state.topic}: ${state.rounds} findings, summarised by gpt-4o-mini`
  })

  const researcher = protectNode(bridge, research, {
    breaker: { name: "researcher" },
    budget: { name: "research", perRun: { costUsd: 0.02 } },
    pricing,
    fallback: { degrade: cheapSummary },
    onOutcome: (o) => void outcomes.push(o)
  })

  const graph = new StateGraph(State)
    .addNode("researcher", researcher)
    .addEdge(START, "researcher")
    .addConditionalEdges("researcher", (s: S) => (s.summary === undefined ? "researcher" : END))
    .compile()

  for (const [i, topic] of (options.topics ?? ["circuit breakers", "agent budgets"]).entries()) {
    const out = await graph.invoke({ topic }, { configurable: { thread_id: `thread-${i + 1}` }, recursionLimit: 50 })
    log(`thread-${i + 1}: ${out.rounds} rounds on gpt-4o, then ${out.__cascadebreaker_fallback__}: ${out.summary}`)
  }
  const refusal = outcomes.find((o) => o.budget !== undefined)?.budget
  if (refusal !== undefined) {
    log(
      `refused: budget "${refusal.budget}" spent $${
        refusal.spent.toFixed(3)
      } of $${refusal.limit} for the ${refusal.scope}`
    )
  }

  const [byRun, byNode] = await bridge.runtime.runPromise(
    Effect.flatMap(
      Ledger.Ledger,
      (ledger) => Effect.zipRight(ledger.flush, Effect.all([ledger.usage({ by: "run" }), ledger.usage({ by: "node" })]))
    )
  )
  for (const u of byRun) {
    log(`run ${u.key}: ${u.calls} calls, ${u.tokensIn + u.tokensOut} tokens, $${u.costUsd.toFixed(3)}`)
  }
  for (const u of byNode) log(`node ${u.key}: ${u.calls} calls, $${u.costUsd.toFixed(3)}`)
  if (options.filename !== undefined) {
    log(`see it in the CLI: npx agentarmour ledger usage --by run --db ${options.filename}`)
  }
  await bridge.dispose()
  return { outcomes, byRun, byNode }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main({ filename: "budget-demo.db" })
}
