import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages"
import { tool } from "@langchain/core/tools"
import { Command, END, MemorySaver, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph"
import { Ledger } from "agentarmour"
import { guardedToolNode, LangGraphBridge, routeToolCalls } from "agentarmour/langgraph"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { z } from "zod"

const bridges: Array<LangGraphBridge.Bridge<never>> = []
afterEach(async () => {
  await Promise.all(bridges.splice(0).map((b) => b.dispose()))
})

const makeTools = () => {
  const ran: Array<{ tool: string; args: unknown }> = []
  const search = tool(async ({ query }) => (ran.push({ tool: "search", args: { query } }), `results for ${query}`), {
    name: "search",
    description: "search the web",
    schema: z.object({ query: z.string() })
  })
  const remove = tool(async ({ path }) => (ran.push({ tool: "remove", args: { path } }), `removed ${path}`), {
    name: "remove",
    description: "delete a file",
    schema: z.object({ path: z.string() })
  })
  return { ran, search, remove }
}

/** agent node that answers with the scripted AI messages in turn, then a final text */
const scripted = (turns: ReadonlyArray<AIMessage>) => {
  let i = 0
  return () => ({ messages: [turns[i++] ?? new AIMessage("done")] })
}

const graphOf = (
  turns: ReadonlyArray<AIMessage>,
  node: (state: unknown, config?: any) => Promise<unknown>,
  checkpointer?: MemorySaver
) =>
  new StateGraph(MessagesAnnotation)
    .addNode("agent", scripted(turns))
    .addNode("tools", node as any)
    .addEdge(START, "agent")
    .addConditionalEdges("agent", routeToolCalls, ["tools", END])
    .addEdge("tools", "agent")
    .compile(checkpointer ? { checkpointer } : {})

const toolMessages = (messages: ReadonlyArray<BaseMessage>) =>
  messages.filter((m): m is ToolMessage => m instanceof ToolMessage || m.getType() === "tool") as Array<ToolMessage>

const bridge = () => {
  const b = LangGraphBridge.make()
  bridges.push(b)
  return b
}

describe("guardedToolNode", () => {
  it("answers every call, tool_calls and invalid_tool_calls, with one ToolMessage each in call order", async () => {
    const { ran, remove, search } = makeTools()
    const b = bridge()
    const turn = new AIMessage({
      content: "",
      tool_calls: [
        { id: "1", name: "serch", args: { query: "x" } },
        { id: "2", name: "search", args: { query: 3 } },
        { id: "3", name: "search", args: { query: "ok" } }
      ],
      invalid_tool_calls: [
        { id: "4", name: "search", args: "{query: 'fixed',}", error: "bad json" },
        { id: "5", name: "search", args: "<<not json>>", error: "bad json" }
      ]
    })
    const graph = graphOf([turn], guardedToolNode(b, [search, remove]))
    const out = await graph.invoke({ messages: [new HumanMessage("go")] })
    const answers = toolMessages(out.messages)
    expect(answers.map((m) => m.tool_call_id)).toEqual(["1", "2", "3", "4", "5"])
    expect(answers.map((m) => m.status ?? "success")).toEqual(["error", "error", "success", "success", "error"])
    expect(answers[0]!.content).toContain("Did you mean \"search\"?")
    expect(answers[1]!.content).toContain("query")
    expect(answers[2]!.content).toBe("results for ok")
    expect(answers[3]!.content).toBe("results for fixed")
    expect(answers[4]!.content).toContain("<<not json>>")
    expect(ran).toEqual([{ tool: "search", args: { query: "ok" } }, { tool: "search", args: { query: "fixed" } }])
    expect(out.messages[out.messages.length - 1]!.content).toBe("done")
    const outcomes = await b.run(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.flush
      return (yield* ledger.toolCalls()).map((r) => r.outcome).reverse()
    }))
    expect(outcomes).toEqual(["unknown_tool", "invalid_args", "ok", "repaired", "malformed"])
  })

  it("routeToolCalls sends a message with only invalid_tool_calls to tools", () => {
    const state = {
      messages: [new AIMessage({ content: "", invalid_tool_calls: [{ id: "1", name: "x", args: "{", error: "e" }] })]
    }
    expect(routeToolCalls(state)).toBe("tools")
    expect(routeToolCalls({ messages: [new AIMessage("hi")] })).toBe(END)
  })

  it("repeats count per thread_id and a new thread starts from zero", async () => {
    const { ran, search } = makeTools()
    const b = bridge()
    const call = (id: string) =>
      new AIMessage({ content: "", tool_calls: [{ id, name: "search", args: { query: "same" } }] })
    const node = guardedToolNode(b, [search], { repeats: { max: 1 } })
    for (const thread of ["t1", "t2"]) {
      const graph = graphOf([call("a"), call("b")], node, new MemorySaver())
      const out = await graph.invoke({ messages: [new HumanMessage("go")] }, { configurable: { thread_id: thread } })
      const answers = toolMessages(out.messages)
      expect(answers.map((m) => m.status ?? "success")).toEqual(["success", "error"])
      expect(answers[1]!.content).toContain("exact arguments")
    }
    expect(ran).toHaveLength(2)
  })

  it("ask pauses with interrupt; approve runs the call exactly once on resume, reject answers with the reason", async () => {
    const { ran, remove, search } = makeTools()
    const b = bridge()
    const checkpointer = new MemorySaver()
    const node = guardedToolNode(b, [search, remove], { permissions: { remove: "ask" } })
    const turn = new AIMessage({
      content: "",
      tool_calls: [
        { id: "s", name: "search", args: { query: "before" } },
        { id: "r", name: "remove", args: { path: "/tmp/x" } }
      ]
    })
    const graph = graphOf([turn], node, checkpointer)
    const config = { configurable: { thread_id: "ask-1" } }
    const paused = await graph.invoke({ messages: [new HumanMessage("go")] }, config)
    expect((paused as any).__interrupt__?.[0]?.value).toEqual({
      type: "agentarmour/tool-approval",
      tool: "remove",
      args: { path: "/tmp/x" },
      callId: "r"
    })
    expect(ran).toEqual([])
    const done = await graph.invoke(new Command({ resume: { approve: true } }), config)
    expect(ran).toEqual([{ tool: "search", args: { query: "before" } }, { tool: "remove", args: { path: "/tmp/x" } }])
    expect(toolMessages(done.messages).map((m) => m.content)).toEqual(["results for before", "removed /tmp/x"])

    const graph2 = graphOf(
      [new AIMessage({ content: "", tool_calls: [{ id: "r2", name: "remove", args: { path: "~" } }] })],
      node,
      checkpointer
    )
    const config2 = { configurable: { thread_id: "ask-2" } }
    await graph2.invoke({ messages: [new HumanMessage("go")] }, config2)
    const rejected = await graph2.invoke(new Command({ resume: { reject: "never touch home" } }), config2)
    const answer = toolMessages(rejected.messages)[0]!
    expect(answer.status).toBe("error")
    expect(answer.content).toContain("never touch home")
    expect(ran).toHaveLength(2)
  })

  it("MCP annotations decide without an explicit permission: destructiveHint asks", async () => {
    const { remove } = makeTools()
    ;(remove as any).metadata = { annotations: { destructiveHint: true } }
    const b = bridge()
    const graph = graphOf(
      [new AIMessage({ content: "", tool_calls: [{ id: "r", name: "remove", args: { path: "a" } }] })],
      guardedToolNode(b, [remove]),
      new MemorySaver()
    )
    const paused = await graph.invoke({ messages: [new HumanMessage("go")] }, { configurable: { thread_id: "mcp" } })
    expect((paused as any).__interrupt__?.[0]?.value?.type).toBe("agentarmour/tool-approval")
  })
})
