/**
 * Testing a graph's failure handling with AgentMock (`agentarmour/testing`),
 * without a network or a real clock:
 *
 *   1. a scripted ReAct agent: the model calls `search`, then answers; the
 *      tool calls are checked with `expectTrajectory`, the path with `nodePath`
 *   2. a cassette: the run is recorded once, then replayed in `lockdown` by a
 *      model that would throw if it were called
 *   3. a fault schedule in virtual time: the model hangs, the 30 s call
 *      timeout fires, the breaker opens, and after 60 s it recovers — all on
 *      `TestClock`, in milliseconds
 *
 * Run: npx tsx examples/agent_testing.ts
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

import { AIMessage, type BaseMessage, HumanMessage } from "@langchain/core/messages"
import { tool } from "@langchain/core/tools"
import { END, MemorySaver, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph"
import { ToolNode, toolsCondition } from "@langchain/langgraph/prebuilt"
import { CascadeAnnotation, LangGraphBridge, protectNode } from "agentarmour/langgraph"
import { AgentMock } from "agentarmour/testing"
import { Effect, Fiber, Layer, TestClock, TestContext } from "effect"

const search = tool(async ({ query }: { query: string }) => `3 papers on ${query}`, {
  name: "search",
  description: "search the literature",
  schema: { type: "object", properties: { query: { type: "string" } }, required: ["query"] }
})

/** the graph under test: a ReAct agent over any chat model */
const reactAgent = (model: AgentMock.MockChatModel | AgentMock.CassetteChatModel) => {
  const bound = model.bindTools([search])
  return new StateGraph(MessagesAnnotation)
    .addNode("agent", async (s) => ({ messages: [await bound.invoke(s.messages)] }))
    .addNode("tools", new ToolNode([search]))
    .addEdge(START, "agent")
    .addConditionalEdges("agent", toolsCondition, ["tools", END])
    .addEdge("tools", "agent")
    .compile({ checkpointer: new MemorySaver() })
}

const script = () =>
  AgentMock.model([
    { toolCalls: [{ name: "search", args: { query: "circuit breakers" } }], usage: { input: 120, output: 18 } },
    { text: "Three papers; the oldest is from 2007.", usage: { input: 160, output: 12 } }
  ], { name: "gpt-4o-mini" })

/** 1. a scripted ReAct agent, its tool calls and its path */
const scripted = async () => {
  const model = script()
  const graph = reactAgent(model)
  const config = { configurable: { thread_id: "scripted" } }
  const out = await graph.invoke({ messages: [new HumanMessage("find papers on circuit breakers")] }, config)
  AgentMock.expectTrajectory(out.messages, [{ tool: "search", args: { query: "circuit breakers" } }])
  model.assertConsumed()
  return { answer: String(out.messages.at(-1)!.content), path: await AgentMock.nodePath(graph, config) }
}

/** 2. record once, replay in lockdown with a model that throws if called */
const cassette = async (dir: string) => {
  const file = join(dir, "react.cassette.json")
  const question = () => ({ messages: [new HumanMessage("find papers on circuit breakers")] })
  const live = script()
  await reactAgent(AgentMock.cassette(live, { file, mode: "record" })).invoke(question(), {
    configurable: { thread_id: "t" }
  })
  const never = AgentMock.model([], { name: "gpt-4o-mini" })
  const out = await reactAgent(AgentMock.cassette(never, { file, mode: "lockdown" })).invoke(question(), {
    configurable: { thread_id: "t" }
  })
  return {
    recordedCalls: live.calls.length,
    replayCalls: never.calls.length,
    answer: String(out.messages.at(-1)!.content)
  }
}

/** 3. the node times out after 30 s, the breaker opens, recovers after 60 s: on TestClock */
const virtualTime = Effect.gen(function*() {
  const bridge = LangGraphBridge.make(Layer.setClock(yield* Effect.clock))
  const model = AgentMock.model([{ text: "too late", latency: "45 seconds" }, "on time"], { name: "gpt-4o-mini" })
  const agent = protectNode(bridge, async (s: { messages: Array<BaseMessage> }) => ({
    messages: [await model.invoke(s.messages)]
  }), {
    breaker: { name: "agent", callTimeout: "30 seconds", failureThreshold: 1, recoveryTimeout: "60 seconds" },
    fallback: { degrade: () => ({ messages: [new AIMessage("fallback")] }) }
  })
  const graph = new StateGraph({ ...MessagesAnnotation.spec, ...CascadeAnnotation })
    .addNode("agent", agent)
    .addEdge(START, "agent")
    .addEdge("agent", END)
    .compile()
  const ask = () =>
    Effect.promise(() => graph.invoke({ messages: [new HumanMessage("q")] })).pipe(
      Effect.map((out) => String(out.messages.at(-1)!.content))
    )
  const story: Array<string> = []
  const first = yield* Effect.fork(ask())
  // the model has been called (its 45 s latency is sleeping on the TestClock)
  while (model.calls.length === 0) yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
  yield* TestClock.adjust("30 seconds")
  story.push(`after 30 s: ${yield* Fiber.join(first)}`)
  story.push(`breaker open: ${yield* ask()}`)
  yield* TestClock.adjust("60 seconds")
  story.push(`after 60 s more: ${yield* ask()}`)
  yield* Effect.promise(() => bridge.dispose())
  return story
}).pipe(Effect.provide(TestContext.TestContext))

export const main = async (log: (line: string) => void = console.log) => {
  const dir = mkdtempSync(join(tmpdir(), "agentarmour-testing-"))
  try {
    const one = await scripted()
    log(`scripted: ${one.answer} (path ${one.path.join(" -> ")})`)
    const two = await cassette(dir)
    log(`cassette: recorded ${two.recordedCalls} calls, replayed with ${two.replayCalls} calls: ${two.answer}`)
    const three = await Effect.runPromise(virtualTime)
    for (const line of three) log(`virtual time: ${line}`)
    return { scripted: one, cassette: two, virtualTime: three }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(() => process.exit(0), (e) => {
    console.error(e)
    process.exit(1)
  })
}
