import { AIMessage, type BaseMessage, HumanMessage, type StandardMessageStructure } from "@langchain/core/messages"
import { Annotation, Command, END, START, StateGraph } from "@langchain/langgraph"
import { BreakerRegistry, Budget } from "agentarmour"
import { CascadeAnnotation, LangGraphBridge, type Outcome, protectNode } from "agentarmour/langgraph"
import { Effect } from "effect"

import { describe, expect, it } from "vitest"
import { recordingLedger } from "./support/ledger.js"

const State = Annotation.Root({
  ...CascadeAnnotation,
  query: Annotation<string>(),
  messages: Annotation<Array<BaseMessage>>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  answer: Annotation<string | undefined>()
})
type S = typeof State.State

const pricing = {
  "gpt-4o": { inputPer1M: 2.5, outputPer1M: 10 },
  "claude-x": { inputPer1M: 3, outputPer1M: 15 }
}

const aiMessage = (model: string, input: number, output: number, key: "model_name" | "model" = "model_name") =>
  new AIMessage<StandardMessageStructure>({
    content: `answer from ${model}`,
    usage_metadata: { input_tokens: input, output_tokens: output, total_tokens: input + output },
    response_metadata: { [key]: model }
  })

/** a ledger that keeps usage records; the bridge's layer */
const recording = () => {
  const { layer, usage } = recordingLedger()
  return { usage, bridge: LangGraphBridge.make(layer) }
}

const oneNodeGraph = (node: (state: S, config?: any) => Promise<unknown>) =>
  new StateGraph(State)
    .addNode("researcher", node as any)
    .addEdge(START, "researcher")
    .addEdge("researcher", END)
    .compile()

describe("protectNode with a budget", () => {
  it("charges the usage_metadata of the AI messages the node returns, priced per model, per thread", async () => {
    const { bridge, usage } = recording()
    const researcher = protectNode(bridge, () => ({
      messages: [
        new HumanMessage("ignored"),
        aiMessage("gpt-4o", 1000, 200),
        aiMessage("claude-x", 2000, 100, "model")
      ],
      answer: "done"
    }), { breaker: { name: "research" }, budget: { name: "research-budget" }, pricing })
    await oneNodeGraph(researcher).invoke({ query: "q" }, { configurable: { thread_id: "thread-9" } })
    await bridge.dispose()
    expect(usage.map((u) => ({ ...u, createdAt: undefined }))).toEqual([
      {
        node: "researcher",
        budget: "research-budget",
        runId: "thread-9",
        model: "gpt-4o",
        tokensIn: 1000,
        tokensOut: 200,
        costUsd: (1000 * 2.5 + 200 * 10) / 1e6,
        createdAt: undefined
      },
      {
        node: "researcher",
        budget: "research-budget",
        runId: "thread-9",
        model: "claude-x",
        tokensIn: 2000,
        tokensOut: 100,
        costUsd: (2000 * 3 + 100 * 15) / 1e6,
        createdAt: undefined
      }
    ])
  })

  it("a model missing from pricing is charged its tokens at $0; a Command's update is charged too", async () => {
    const { bridge, usage } = recording()
    const researcher = protectNode(
      bridge,
      () => new Command({ update: { messages: [aiMessage("local-llama", 50, 5)] }, goto: END }),
      { breaker: { name: "research" }, budget: { name: "b" }, pricing }
    )
    await oneNodeGraph(researcher).invoke({ query: "q" })
    await bridge.dispose()
    expect(usage.map((u) => [u.model, u.tokensIn, u.tokensOut, u.costUsd])).toEqual([["local-llama", 50, 5, 0]])
  })

  it("a spent run budget refuses before the node runs: the fallback answers, reported in markers, onOutcome and the event", async () => {
    const { bridge } = recording()
    let runs = 0
    const outcomes: Array<Outcome> = []
    const researcher = protectNode(bridge, () => {
      runs++
      return { messages: [aiMessage("gpt-4o", 4000, 0)], answer: "expensive" } // $0.01 a call
    }, {
      breaker: { name: "research", failureThreshold: 1 },
      budget: { name: "research", perRun: { costUsd: 0.015 } },
      pricing,
      fallback: { degrade: () => ({ answer: "cheap" }) },
      onOutcome: (o) => void outcomes.push(o)
    })
    const graph = oneNodeGraph(researcher)
    const config = { configurable: { thread_id: "t1" } }
    expect((await graph.invoke({ query: "q" }, config)).answer).toBe("expensive")
    expect((await graph.invoke({ query: "q" }, config)).answer).toBe("expensive") // crosses: $0.02
    const events: Array<unknown> = []
    for await (const e of graph.streamEvents({ query: "q" }, { ...config, version: "v2" })) {
      if (e.event === "on_custom_event" && e.name === "agentarmour") events.push(e.data)
    }
    const out = await graph.invoke({ query: "q" }, config)
    expect(runs).toBe(2)
    expect(out.answer).toBe("cheap")
    expect(out.__cascadebreaker_fallback__).toBe("degrade")
    expect(out.__cascadebreaker_traceback__).toContain("BudgetExceededError")
    const refusal = { budget: "research", scope: "run", resource: "costUsd", limit: 0.015, retryAfterMillis: null }
    expect(events).toEqual([
      {
        node: "researcher",
        outcome: "fallback",
        fallback: "degrade",
        state: "CLOSED",
        budget: { ...refusal, spent: expect.closeTo(0.02, 9) }
      }
    ])
    expect(outcomes.at(-1)).toMatchObject({ outcome: "fallback", fallback: "degrade", budget: refusal })
    // another thread has its own budget
    expect((await graph.invoke({ query: "q" }, { configurable: { thread_id: "t2" } })).answer).toBe("expensive")
    await bridge.dispose()
  })

  it("a refusal is not a node failure: the breaker stays CLOSED and counts nothing", async () => {
    const bridge = LangGraphBridge.make()
    const researcher = protectNode(bridge, () => ({ answer: "x" }), {
      breaker: "research",
      budget: { name: "calls", perRun: { calls: 1 } },
      fallback: { degrade: () => ({ answer: "cheap" }) }
    })
    const graph = oneNodeGraph(researcher)
    const answers: Array<string | undefined> = []
    for (let i = 0; i < 3; i++) {
      answers.push((await graph.invoke({ query: "q" }, { configurable: { thread_id: "t" } })).answer)
    }
    expect(answers).toEqual(["x", "cheap", "cheap"])
    const metrics = await bridge.runtime.runPromise(
      Effect.flatMap(BreakerRegistry.BreakerRegistry, (r) => Effect.flatMap(r.get("research"), (b) => b.metrics))
    )
    expect(metrics).toMatchObject({ state: "CLOSED", totalCalls: 1, failures: 0 })
    await bridge.dispose()
  })

  it("one Budget shared by three nodes caps their spend together; a refused node without a cached answer reports failed", async () => {
    const { bridge } = recording()
    const shared = await bridge.runtime.runPromise(Budget.make({ name: "graph", perRun: { tokens: 150 } }))
    const outcomes: Array<Outcome> = []
    const node = (answer: string) => () => ({ messages: [aiMessage("gpt-4o", 100, 0)], answer })
    const options = (name: string) => ({
      breaker: { name },
      budget: shared,
      pricing,
      onOutcome: (o: Outcome) => void outcomes.push(o)
    })
    const graph = new StateGraph(State)
      .addNode("a", protectNode(bridge, node("a"), options("a")))
      .addNode("b", protectNode(bridge, node("b"), options("b")))
      .addNode("c", protectNode(bridge, node("c"), options("c")))
      .addEdge(START, "a")
      .addEdge("a", "b")
      .addEdge("b", "c")
      .addEdge("c", END)
      .compile()
    await graph.invoke({ query: "q" }, { configurable: { thread_id: "t" } })
    expect(outcomes.map((o) => `${o.node}:${o.outcome}`)).toEqual(["a:ok", "b:ok", "c:failed"])
    expect(outcomes[2]!.budget).toMatchObject({ budget: "graph", resource: "tokens", spent: 200, limit: 150 })
    await bridge.dispose()
  })

  it("bad budget options or prices throw a ParseError naming the field when the node is built", () => {
    const bridge = LangGraphBridge.make()
    const node = () => ({ answer: "x" })
    expect(() => protectNode(bridge, node, { breaker: { name: "b" }, budget: { name: "b", perRun: { costUsd: -1 } } }))
      .toThrow(/costUsd/)
    expect(() =>
      protectNode(bridge, node, { breaker: { name: "b" }, budget: { name: "b", perWindow: { calls: 1, window: 0 } } })
    ).toThrow(/window/)
    expect(() =>
      protectNode(bridge, node, {
        breaker: { name: "b" },
        budget: { name: "b" },
        pricing: { "gpt-4o": { inputPer1M: 2.5, outputPer1M: Number.NaN } }
      })
    ).toThrow(/gpt-4o[\s\S]*outputPer1M/)
    return bridge.dispose()
  })
})
