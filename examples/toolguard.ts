/**
 * ToolGuard in a ReAct agent: a scripted model (AgentMock) that
 *
 *   1. calls a tool that does not exist ("serch"), and is told the nearest name
 *   2. sends malformed JSON that cannot be repaired, and is shown the parse error
 *   3. loops on the same call, and is told to stop after `repeats.max`
 *   4. asks to delete a file: `remove` is `ask`, so the graph pauses with
 *      `interrupt()`; a reviewer rejects it and the model is told why
 *
 * and still finishes with an answer. Every decision is in the ledger.
 *
 * Run: npx tsx examples/toolguard.ts
 */
import { HumanMessage } from "@langchain/core/messages"
import { tool } from "@langchain/core/tools"
import { Command, END, MemorySaver, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph"
import { Ledger } from "agentarmour"
import { guardedToolNode, LangGraphBridge, routeToolCalls } from "agentarmour/langgraph"
import { AgentMock } from "agentarmour/testing"
import { Effect } from "effect"

const search = tool(async ({ query }: { query: string }) => `3 results for ${query}`, {
  name: "search",
  description: "search the web",
  schema: { type: "object", properties: { query: { type: "string" } }, required: ["query"] }
})

const remove = tool(async ({ path }: { path: string }) => `removed ${path}`, {
  name: "remove",
  description: "delete a file",
  schema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] }
})

const same = { toolCalls: [{ name: "search", args: { query: "circuit breakers" } }] }

export const main = async (log: (line: string) => void = console.log) => {
  const bridge = LangGraphBridge.make()
  const model = AgentMock.model([
    AgentMock.hallucinate.unknownTool("serch", { query: "circuit breakers" }),
    AgentMock.hallucinate.malformedArgs("search", "{\"query\": <<circuit breakers>>}"),
    ...AgentMock.hallucinate.repeat(same, 3),
    { toolCalls: [{ name: "remove", args: { path: "/home/me" } }] },
    "Circuit breakers stop calling a failing service; three sources agree."
  ])
  const bound = model.bindTools([search, remove])
  const graph = new StateGraph(MessagesAnnotation)
    .addNode("agent", async (s) => ({ messages: [await bound.invoke(s.messages)] }))
    .addNode(
      "tools",
      guardedToolNode(bridge, [search, remove], { permissions: { remove: "ask" }, repeats: { max: 2 } })
    )
    .addEdge(START, "agent")
    .addConditionalEdges("agent", routeToolCalls, ["tools", END])
    .addEdge("tools", "agent")
    .compile({ checkpointer: new MemorySaver() })
  const config = { configurable: { thread_id: "toolguard-demo" } }
  try {
    let out: any = await graph.invoke({ messages: [new HumanMessage("what are circuit breakers?")] }, config)
    for (const request of out.__interrupt__ ?? []) log(`approval asked: ${JSON.stringify(request.value)}`)
    out = await graph.invoke(new Command({ resume: { reject: "never delete a home directory" } }), config)
    const answer = String(out.messages.at(-1)!.content)
    log(`answer: ${answer}`)
    const outcomes = await bridge.run(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.flush
      return (yield* ledger.toolCalls({ run: "toolguard-demo" })).map((r) => `${r.tool}: ${r.outcome}`).reverse()
    }))
    for (const line of outcomes) log(line)
    model.assertConsumed()
    return { answer, outcomes }
  } finally {
    await bridge.dispose()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main()
}
