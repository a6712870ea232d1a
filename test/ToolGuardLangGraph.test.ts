import { NodeSdk } from "@effect/opentelemetry"
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages"
import { tool } from "@langchain/core/tools"
import {
  Annotation,
  Command,
  END,
  interrupt,
  MemorySaver,
  MessagesAnnotation,
  START,
  StateGraph
} from "@langchain/langgraph"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Ledger, UnknownToolError } from "agentarmour"
import {
  guardedToolNode,
  LangGraphBridge,
  routeToolCalls,
  SPAN_TOOL_CALLS,
  SPAN_TOOL_REFUSALS
} from "agentarmour/langgraph"
import { AgentMock } from "agentarmour/testing"
import { Effect, type Layer } from "effect"
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

/** a tool that asks a human with interrupt() and answers with the resume value */
const askHuman = () =>
  tool(async ({ question }) => `the human said ${interrupt<string, string>(question)}`, {
    name: "ask_human",
    description: "ask a human",
    schema: z.object({ question: z.string() })
  })

type Node = (state: unknown, config?: any) => Promise<unknown>

/** a ReAct graph: the agent asks its scripted model (AgentMock), tool calls go to `tools` */
const graphOf = (model: AgentMock.MockChatModel, node: Node, checkpointer?: MemorySaver) =>
  new StateGraph(MessagesAnnotation)
    .addNode("agent", async (s) => ({ messages: [await model.invoke(s.messages)] }))
    .addNode("tools", node as any)
    .addEdge(START, "agent")
    .addConditionalEdges("agent", routeToolCalls, ["tools", END])
    .addEdge("tools", "agent")
    .compile(checkpointer ? { checkpointer } : {})

const toolMessages = (messages: ReadonlyArray<BaseMessage>) =>
  messages.filter((m): m is ToolMessage => m instanceof ToolMessage || m.getType() === "tool") as Array<ToolMessage>

const bridge = (layer?: Layer.Layer<never>) => {
  const b = LangGraphBridge.make(layer)
  bridges.push(b)
  return b
}

/** ToolGuard's decisions, oldest first */
const outcomesOf = (b: LangGraphBridge.Bridge<never>, run?: string) =>
  b.run(Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    yield* ledger.flush
    return (yield* ledger.toolCalls(run === undefined ? {} : { run })).map((r) => r.outcome).reverse()
  }))

const go = { messages: [new HumanMessage("go")] }

describe("guardedToolNode", () => {
  it("answers every call, tool_calls and invalid_tool_calls, with one ToolMessage each in call order", async () => {
    const { ran, remove, search } = makeTools()
    const b = bridge()
    const model = AgentMock.model([
      {
        toolCalls: [
          { id: "1", name: "serch", args: { query: "x" } },
          { id: "2", name: "search", args: { query: 3 } },
          { id: "3", name: "search", args: { query: "ok" } }
        ],
        invalidToolCalls: [
          { id: "4", name: "search", args: "{query: 'fixed',}", error: "bad json" },
          { id: "5", name: "search", args: "<<not json>>", error: "bad json" }
        ]
      },
      "done"
    ])
    const graph = graphOf(model, guardedToolNode(b, [search, remove]))
    const out = await graph.invoke(go)
    const answers = toolMessages(out.messages)
    expect(answers.map((m) => m.tool_call_id)).toEqual(["1", "2", "3", "4", "5"])
    expect(answers.map((m) => m.status ?? "success")).toEqual(["error", "error", "success", "success", "error"])
    expect(answers.map((m) => m.name)).toEqual(["serch", "search", "search", "search", "search"])
    expect(answers[0]!.content).toContain("Did you mean \"search\"?")
    expect(answers[1]!.content).toContain("query")
    expect(answers[2]!.content).toBe("results for ok")
    expect(answers[3]!.content).toBe("results for fixed")
    expect(answers[4]!.content).toContain("<<not json>>")
    expect(ran).toEqual([{ tool: "search", args: { query: "ok" } }, { tool: "search", args: { query: "fixed" } }])
    expect(out.messages[out.messages.length - 1]!.content).toBe("done")
    // the model's next turn saw one answer per call, right after its own message
    expect(model.calls[1]!.messages.slice(-6).map((m) => m.getType())).toEqual([
      "ai",
      "tool",
      "tool",
      "tool",
      "tool",
      "tool"
    ])
    model.assertConsumed()
    expect(await outcomesOf(b)).toEqual(["unknown_tool", "invalid_args", "ok", "repaired", "malformed"])
  })

  it("a refusal's ToolMessage content is the refusal's message, word for word", async () => {
    const { search } = makeTools()
    const model = AgentMock.model([AgentMock.hallucinate.unknownTool("serch", { query: "x" }), "done"])
    const out = await graphOf(model, guardedToolNode(bridge(), [search])).invoke(go)
    const expected = new UnknownToolError({ tool: "serch", available: ["search"], suggestion: "search" }).message
    expect(toolMessages(out.messages).map((m) => m.content)).toEqual([expected])
  })

  it("given a message array (like ToolNode), it answers with a message array", async () => {
    const { search } = makeTools()
    const node = guardedToolNode(bridge(), [search])
    const message = new AIMessage({ content: "", tool_calls: [{ id: "a", name: "search", args: { query: "q" } }] })
    const out = (await node([new HumanMessage("go"), message])) as Array<ToolMessage>
    expect(Array.isArray(out)).toBe(true)
    expect(out.map((m) => [m.tool_call_id, m.content])).toEqual([["a", "results for q"]])
  })

  it("routeToolCalls sends a message with only invalid_tool_calls to tools", () => {
    const state = {
      messages: [new AIMessage({ content: "", invalid_tool_calls: [{ id: "1", name: "x", args: "{", error: "e" }] })]
    }
    expect(routeToolCalls(state)).toBe("tools")
    expect(routeToolCalls({ messages: [new AIMessage("hi")] })).toBe(END)
  })

  it("a model that calls an unknown tool and sends malformed JSON reads the refusals, corrects itself and finishes", async () => {
    const { ran, search } = makeTools()
    const b = bridge()
    const model = AgentMock.model([
      AgentMock.hallucinate.unknownTool("serch", { query: "breakers" }),
      AgentMock.hallucinate.malformedArgs("search"),
      { toolCalls: [{ name: "search", args: { query: "breakers" } }] },
      "Three papers."
    ])
    const graph = graphOf(model, guardedToolNode(b, [search]), new MemorySaver())
    const out = await graph.invoke(go, { configurable: { thread_id: "self-correct" } })
    expect(out.messages.at(-1)!.content).toBe("Three papers.")
    expect(ran).toEqual([{ tool: "search", args: { query: "breakers" } }])
    // each next model call saw the refusal of its previous call
    expect(model.calls[1]!.messages.at(-1)!.content).toContain("Did you mean \"search\"?")
    expect(model.calls[2]!.messages.at(-1)!.content).toContain("\"units\": }")
    expect(await AgentMock.nodePath(graph, { configurable: { thread_id: "self-correct" } })).toEqual([
      "agent",
      "tools",
      "agent",
      "tools",
      "agent",
      "tools",
      "agent"
    ])
    expect(await outcomesOf(b, "self-correct")).toEqual(["unknown_tool", "malformed", "ok"])
  })

  it("repeats count per thread_id and a new thread starts from zero", async () => {
    const { ran, search } = makeTools()
    const b = bridge()
    const node = guardedToolNode(b, [search], { repeats: { max: 1 } })
    for (const thread of ["t1", "t2"]) {
      const model = AgentMock.model([
        ...AgentMock.hallucinate.repeat({ toolCalls: [{ name: "search", args: { query: "same" } }] }, 2),
        "done"
      ])
      const graph = graphOf(model, node, new MemorySaver())
      const out = await graph.invoke(go, { configurable: { thread_id: thread } })
      const answers = toolMessages(out.messages)
      expect(answers.map((m) => m.status ?? "success")).toEqual(["success", "error"])
      expect(answers[1]!.content).toContain("exact arguments")
    }
    expect(ran).toHaveLength(2)
    expect(await outcomesOf(b, "t1")).toEqual(["ok", "repeated"])
    expect(await outcomesOf(b, "t2")).toEqual(["ok", "repeated"])
  })

  it("repeats are recognised on canonical arguments: reordered keys and other whitespace are the same call", async () => {
    const { ran } = makeTools()
    const b = bridge()
    const find = tool(async ({ a, b }) => (ran.push({ tool: "find", args: { a, b } }), `${a}${b}`), {
      name: "find",
      description: "find",
      schema: z.object({ a: z.number(), b: z.number() })
    })
    const model = AgentMock.model([
      { toolCalls: [{ name: "find", args: { a: 1, b: 2 } }] },
      { invalidToolCalls: [{ name: "find", args: "{ \"b\": 2,\n  \"a\": 1, }" }] },
      "done"
    ])
    const graph = graphOf(model, guardedToolNode(b, [find], { repeats: { max: 1 } }), new MemorySaver())
    const out = await graph.invoke(go, { configurable: { thread_id: "canonical" } })
    expect(toolMessages(out.messages).map((m) => m.status ?? "success")).toEqual(["success", "error"])
    expect(ran).toHaveLength(1)
    expect(await outcomesOf(b, "canonical")).toEqual(["ok", "repeated"])
  })

  it("a tool that throws is answered with an error ToolMessage and the run goes on", async () => {
    const b = bridge()
    const flaky = tool(async (): Promise<string> => {
      throw new Error("weather API: 503")
    }, { name: "weather", description: "the weather", schema: z.object({ city: z.string() }) })
    const model = AgentMock.model([{ toolCalls: [{ name: "weather", args: { city: "Paris" } }] }, "no weather today"])
    const out = await graphOf(model, guardedToolNode(b, [flaky])).invoke(go)
    const [answer] = toolMessages(out.messages)
    expect(answer!.status).toBe("error")
    expect(answer!.content).toContain("weather API: 503")
    expect(out.messages.at(-1)!.content).toBe("no weather today")
    expect(await outcomesOf(b)).toEqual(["failed"])
  })
})

describe("guardedToolNode is a drop-in for ToolNode", () => {
  it("a tool returning a Command updates the state, and the Command's ToolMessage is the call's answer", async () => {
    const { ran, search } = makeTools()
    const b = bridge()
    const setCity = tool(async ({ city }, config) =>
      new Command({
        update: {
          city,
          messages: [
            new ToolMessage({ tool_call_id: config.toolCall!.id!, name: "set_city", content: `city is now ${city}` })
          ]
        }
      }), { name: "set_city", description: "remember the city", schema: z.object({ city: z.string() }) })
    const State = Annotation.Root({ ...MessagesAnnotation.spec, city: Annotation<string | undefined>() })
    const model = AgentMock.model([
      {
        toolCalls: [
          { id: "c", name: "set_city", args: { city: "Lyon" } },
          { id: "s", name: "search", args: { query: "Lyon" } },
          { id: "u", name: "set_cty", args: { city: "Nice" } }
        ]
      },
      "Lyon it is."
    ])
    const graph = new StateGraph(State)
      .addNode("agent", async (s) => ({ messages: [await model.invoke(s.messages)] }))
      .addNode("tools", guardedToolNode(b, [setCity, search]) as any)
      .addEdge(START, "agent")
      .addConditionalEdges("agent", routeToolCalls, ["tools", END])
      .addEdge("tools", "agent")
      .compile()
    const out = await graph.invoke(go)
    expect(out.city).toBe("Lyon")
    const answers = toolMessages(out.messages)
    expect(answers.map((m) => [m.tool_call_id, m.status ?? "success", m.content])).toEqual([
      ["c", "success", "city is now Lyon"],
      ["s", "success", "results for Lyon"],
      ["u", "error", expect.stringContaining("Did you mean \"set_city\"?")]
    ])
    expect(ran).toEqual([{ tool: "search", args: { query: "Lyon" } }])
    expect(out.messages.at(-1)!.content).toBe("Lyon it is.")
    expect(await outcomesOf(b)).toEqual(["ok", "ok", "unknown_tool"])
  })

  it("a tool that calls interrupt() pauses the graph, and resuming with Command({ resume }) completes the call", async () => {
    const b = bridge()
    const asked: Array<unknown> = []
    const confirm = tool(async ({ question }) => {
      const answer = interrupt<{ question: string }, string>({ question })
      asked.push(answer)
      return `the human said ${answer}`
    }, { name: "ask_human", description: "ask a human", schema: z.object({ question: z.string() }) })
    const model = AgentMock.model([
      { toolCalls: [{ id: "q", name: "ask_human", args: { question: "ship it?" } }] },
      "shipped"
    ])
    const graph = graphOf(model, guardedToolNode(b, [confirm]), new MemorySaver())
    const config = { configurable: { thread_id: "hitl" } }
    const paused = await graph.invoke(go, config)
    expect((paused as any).__interrupt__?.map((i: { value: unknown }) => i.value)).toEqual([{ question: "ship it?" }])
    expect(toolMessages(paused.messages)).toEqual([])
    expect(asked).toEqual([])
    const done = await graph.invoke(new Command({ resume: "yes" }), config)
    expect(asked).toEqual(["yes"])
    expect(toolMessages(done.messages).map((m) => [m.tool_call_id, m.status ?? "success", m.content])).toEqual([
      ["q", "success", "the human said yes"]
    ])
    expect(done.messages.at(-1)!.content).toBe("shipped")
    model.assertConsumed()
  })

  it("a tool that interrupts is not failing: after many paused and resumed calls its breaker is still closed", async () => {
    const b = bridge()
    const node = guardedToolNode(b, [askHuman()])
    const checkpointer = new MemorySaver()
    // the tool's breaker (tool:ask_human, 3 failures in 60 s by default) must not count the pauses
    const threads = ["h1", "h2", "h3", "h4", "h5"]
    const graphs = threads.map(() =>
      graphOf(
        AgentMock.model([{ toolCalls: [{ name: "ask_human", args: { question: "ship it?" } }] }, "shipped"]),
        node,
        checkpointer
      )
    )
    // five humans asked at once, then they answer
    for (const [i, thread] of threads.entries()) {
      const paused = await graphs[i]!.invoke(go, { configurable: { thread_id: thread } })
      expect((paused as any).__interrupt__?.[0]?.value).toBe("ship it?")
    }
    for (const [i, thread] of threads.entries()) {
      const done = await graphs[i]!.invoke(new Command({ resume: "yes" }), { configurable: { thread_id: thread } })
      expect(toolMessages(done.messages).map((m) => [m.status ?? "success", m.content])).toEqual([
        ["success", "the human said yes"]
      ])
    }
    const transitions = await b.run(Effect.flatMap(Ledger.Ledger, (l) => Effect.zipRight(l.flush, l.transitions())))
    expect(transitions.filter((t) => t.breakerName === "tool:ask_human")).toEqual([])
  })

  it("a tool's pause (interrupt) is not recorded as a failed call: one decision per answered call", async () => {
    const b = bridge()
    const graph = graphOf(
      AgentMock.model([{ toolCalls: [{ name: "ask_human", args: { question: "ship it?" } }] }, "shipped"]),
      guardedToolNode(b, [askHuman()]),
      new MemorySaver()
    )
    const config = { configurable: { thread_id: "paused" } }
    await graph.invoke(go, config)
    await graph.invoke(new Command({ resume: "yes" }), config)
    expect(await outcomesOf(b, "paused")).toEqual(["ok"])
  })

  it("a tool that interrupts counts once toward repeats and caps: its resumed call is not a repeat", async () => {
    const b = bridge()
    const confirm = askHuman()
    const model = AgentMock.model([{ toolCalls: [{ name: "ask_human", args: { question: "ship it?" } }] }, "shipped"])
    const graph = graphOf(
      model,
      guardedToolNode(b, [confirm], { repeats: { max: 1 }, maxCallsPerRun: 1 }),
      new MemorySaver()
    )
    const config = { configurable: { thread_id: "once" } }
    await graph.invoke(go, config)
    const done = await graph.invoke(new Command({ resume: "yes" }), config)
    expect(toolMessages(done.messages).map((m) => [m.status ?? "success", m.content])).toEqual([
      ["success", "the human said yes"]
    ])
    expect(await outcomesOf(b, "once")).toEqual(["ok"])
  })

  it("the node runs in an agentarmour.node span carrying the number of calls answered and of those refused", async () => {
    const exporter = new InMemorySpanExporter()
    const b = bridge(NodeSdk.layer(() => ({
      resource: { serviceName: "test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    })))
    const { search } = makeTools()
    const model = AgentMock.model([
      {
        toolCalls: [{ name: "search", args: { query: "a" } }, { name: "nope", args: {} }],
        invalidToolCalls: [{ name: "search", args: "{" }]
      },
      { toolCalls: [{ name: "search", args: { query: "b" } }] },
      "done"
    ])
    await graphOf(model, guardedToolNode(b, [search], { name: "web-tools" })).invoke(go)
    const spans = exporter.getFinishedSpans().filter((s) => s.name === "agentarmour.node")
    expect(SPAN_TOOL_CALLS).toBe("agentarmour.tool_calls")
    expect(spans.map((s) => s.attributes[SPAN_TOOL_CALLS])).toEqual([3, 1])
    expect(SPAN_TOOL_REFUSALS).toBe("agentarmour.tool_refusals")
    expect(spans.map((s) => s.attributes[SPAN_TOOL_REFUSALS])).toEqual([2, 0])
    // the graph node's name, as protectNode's span has it
    expect(spans.map((s) => s.attributes["agentarmour.node"])).toEqual(["tools", "tools"])
  })

  it("a tool that throws a hostile value (getters that throw) is answered with an error ToolMessage; the run goes on", async () => {
    const hostile = new Proxy({}, {
      get: () => {
        throw new Error("no reading me")
      },
      getPrototypeOf: () => {
        throw new Error("no prototype either")
      }
    })
    const evil = tool(async () => {
      throw hostile
    }, { name: "evil", description: "throws", schema: z.object({}) })
    const model = AgentMock.model([{ toolCalls: [{ name: "evil", args: {} }] }, "recovered"])
    const out = await graphOf(model, guardedToolNode(bridge(), [evil])).invoke(go)
    expect(toolMessages(out.messages).map((m) => m.status)).toEqual(["error"])
    expect(out.messages.at(-1)!.content).toBe("recovered")
  })
})

describe("guardedToolNode: permissions", () => {
  const removeCall = (path: string, id = "r") => ({ toolCalls: [{ id, name: "remove", args: { path } }] })

  it("ask pauses with interrupt; approve runs the call exactly once on resume, reject answers with the reason", async () => {
    const { ran, remove, search } = makeTools()
    const b = bridge()
    const checkpointer = new MemorySaver()
    const node = guardedToolNode(b, [search, remove], { permissions: { remove: "ask" } })
    const model = AgentMock.model([
      {
        toolCalls: [
          { id: "s", name: "search", args: { query: "before" } },
          { id: "r", name: "remove", args: { path: "/tmp/x" } }
        ]
      },
      "done",
      removeCall("~", "r2"),
      "kept your home"
    ])
    const graph = graphOf(model, node, checkpointer)
    const config = { configurable: { thread_id: "ask-1" } }
    const paused = await graph.invoke(go, config)
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
    expect(await outcomesOf(b, "ask-1")).toEqual(["ok", "approved"])

    const config2 = { configurable: { thread_id: "ask-2" } }
    await graph.invoke(go, config2)
    const rejected = await graph.invoke(new Command({ resume: { reject: "never touch home" } }), config2)
    const answer = toolMessages(rejected.messages)[0]!
    expect(answer.status).toBe("error")
    expect(answer.tool_call_id).toBe("r2")
    expect(answer.content).toContain("never touch home")
    expect(rejected.messages.at(-1)!.content).toBe("kept your home")
    expect(ran).toHaveLength(2)
    expect(await outcomesOf(b, "ask-2")).toEqual(["rejected"])
  })

  it("edit runs the edited arguments exactly once, also when another graph resumes from the checkpoint", async () => {
    const { ran, remove } = makeTools()
    const checkpointer = new MemorySaver()
    const model = AgentMock.model([removeCall("/"), "cleaned up"])
    const config = { configurable: { thread_id: "edit" } }
    const first = graphOf(model, guardedToolNode(bridge(), [remove], { permissions: { remove: "ask" } }), checkpointer)
    const paused = await first.invoke(go, config)
    expect((paused as any).__interrupt__?.[0]?.value).toMatchObject({ tool: "remove", args: { path: "/" } })
    // another process: a new bridge, node and graph over the same checkpoints
    const b = bridge()
    const second = graphOf(model, guardedToolNode(b, [remove], { permissions: { remove: "ask" } }), checkpointer)
    const done = await second.invoke(new Command({ resume: { edit: { path: "/tmp/cache" } } }), config)
    expect(ran).toEqual([{ tool: "remove", args: { path: "/tmp/cache" } }])
    expect(toolMessages(done.messages).map((m) => [m.tool_call_id, m.content])).toEqual([["r", "removed /tmp/cache"]])
    expect(done.messages.at(-1)!.content).toBe("cleaned up")
    expect(await outcomesOf(b, "edit")).toEqual(["approved"])
    // resuming the finished thread again runs nothing
    await second.invoke(new Command({ resume: { approve: true } }), config).catch(() => undefined)
    expect(ran).toHaveLength(1)
  })

  it("edited arguments are validated again: a bad edit is an invalid_args refusal and the tool does not run", async () => {
    const { ran, remove } = makeTools()
    const b = bridge()
    const model = AgentMock.model([removeCall("/"), "ok"])
    const graph = graphOf(model, guardedToolNode(b, [remove], { permissions: { remove: "ask" } }), new MemorySaver())
    const config = { configurable: { thread_id: "bad-edit" } }
    await graph.invoke(go, config)
    const done = await graph.invoke(new Command({ resume: { edit: { path: 42 } } }), config)
    const [answer] = toolMessages(done.messages)
    expect(answer!.status).toBe("error")
    expect(answer!.content).toContain("path")
    expect(ran).toEqual([])
    expect(await outcomesOf(b, "bad-edit")).toEqual(["invalid_args"])
  })

  it("two ask calls in one message: two pauses, then each runs exactly once with its own decision", async () => {
    const { ran, remove, search } = makeTools()
    const b = bridge()
    const model = AgentMock.model([
      {
        toolCalls: [
          { id: "s", name: "search", args: { query: "q" } },
          { id: "a", name: "remove", args: { path: "/a" } },
          { id: "b", name: "remove", args: { path: "/b" } }
        ]
      },
      "done"
    ])
    const graph = graphOf(
      model,
      guardedToolNode(b, [search, remove], { permissions: { remove: "ask" } }),
      new MemorySaver()
    )
    const config = { configurable: { thread_id: "two-asks" } }
    const first = await graph.invoke(go, config)
    expect((first as any).__interrupt__?.[0]?.value).toMatchObject({ callId: "a" })
    const second = await graph.invoke(new Command({ resume: { approve: true } }), config)
    expect((second as any).__interrupt__?.[0]?.value).toMatchObject({ callId: "b" })
    expect(ran).toEqual([])
    const done = await graph.invoke(new Command({ resume: { edit: { path: "/b2" } } }), config)
    expect(ran).toEqual([
      { tool: "search", args: { query: "q" } },
      { tool: "remove", args: { path: "/a" } },
      { tool: "remove", args: { path: "/b2" } }
    ])
    expect(toolMessages(done.messages).map((m) => m.content)).toEqual(["results for q", "removed /a", "removed /b2"])
  })

  it("a resume value that is not a ToolDecision never runs the call: { approve: false } or \"yes\"", async () => {
    for (const resume of [{ approve: false }, "yes"]) {
      const { ran, remove } = makeTools()
      const model = AgentMock.model([removeCall("/"), "kept it"])
      const node = guardedToolNode(bridge(), [remove], { permissions: { remove: "ask" } })
      const graph = graphOf(model, node, new MemorySaver())
      const config = { configurable: { thread_id: "not-a-decision" } }
      await graph.invoke(go, config)
      const done = await graph.invoke(new Command({ resume }), config)
      expect(ran).toEqual([])
      expect(toolMessages(done.messages).map((m) => m.status)).toEqual(["error"])
      expect(done.messages.at(-1)!.content).toBe("kept it")
    }
  })

  it("deny refuses the call with an error ToolMessage and the tool does not run", async () => {
    const { ran, remove } = makeTools()
    const b = bridge()
    const model = AgentMock.model([removeCall("/"), "ok"])
    const out = await graphOf(model, guardedToolNode(b, [remove], { permissions: { remove: "deny" } })).invoke(go)
    expect(toolMessages(out.messages).map((m) => m.status)).toEqual(["error"])
    expect(ran).toEqual([])
    expect(await outcomesOf(b)).toEqual(["denied"])
  })

  it("MCP annotations decide without an explicit permission: destructiveHint asks", async () => {
    const { remove } = makeTools()
    ;(remove as any).metadata = { annotations: { destructiveHint: true } }
    const b = bridge()
    const graph = graphOf(AgentMock.model([removeCall("a")]), guardedToolNode(b, [remove]), new MemorySaver())
    const paused = await graph.invoke(go, { configurable: { thread_id: "mcp" } })
    expect((paused as any).__interrupt__?.[0]?.value?.type).toBe("agentarmour/tool-approval")
  })

  it("MCP annotations: readOnlyHint allows without asking, even with destructiveHint", async () => {
    const { ran } = makeTools()
    const read = tool(async ({ path }) => (ran.push({ tool: "read", args: { path } }), `contents of ${path}`), {
      name: "read",
      description: "read a file",
      schema: z.object({ path: z.string() }),
      metadata: { annotations: { readOnlyHint: true } }
    })
    const both = tool(async ({ path }) => (ran.push({ tool: "stat", args: { path } }), `stat ${path}`), {
      name: "stat",
      description: "stat a file",
      schema: z.object({ path: z.string() }),
      metadata: { annotations: { readOnlyHint: true, destructiveHint: true } }
    })
    const b = bridge()
    const model = AgentMock.model([
      { toolCalls: [{ name: "read", args: { path: "a" } }, { name: "stat", args: { path: "b" } }] },
      "read it"
    ])
    const out = await graphOf(model, guardedToolNode(b, [read, both]), new MemorySaver())
      .invoke(go, { configurable: { thread_id: "ro" } })
    expect((out as any).__interrupt__).toBeUndefined()
    expect(ran).toEqual([{ tool: "read", args: { path: "a" } }, { tool: "stat", args: { path: "b" } }])
    expect(out.messages.at(-1)!.content).toBe("read it")
  })

  it("an explicit permission wins over the MCP annotations", async () => {
    const { ran, remove } = makeTools()
    ;(remove as any).metadata = { annotations: { destructiveHint: true } }
    const read = tool(async () => "x", {
      name: "read",
      description: "read a file",
      schema: z.object({ path: z.string() }),
      metadata: { annotations: { readOnlyHint: true } }
    })
    const b = bridge()
    const model = AgentMock.model([
      { toolCalls: [{ name: "remove", args: { path: "a" } }, { name: "read", args: { path: "b" } }] },
      "ok"
    ])
    const out = await graphOf(
      model,
      guardedToolNode(b, [remove, read], { permissions: { remove: "allow", read: "deny" } })
    )
      .invoke(go)
    expect(ran).toEqual([{ tool: "remove", args: { path: "a" } }])
    expect(toolMessages(out.messages).map((m) => m.status ?? "success")).toEqual(["success", "error"])
    expect(await outcomesOf(b)).toEqual(["ok", "denied"])
  })
})

describe("guardedToolNode: options", () => {
  it("bad options throw a ParseError naming the option when the graph is built", () => {
    const { search } = makeTools()
    const messageOf = (f: () => unknown): string => {
      try {
        f()
      } catch (e) {
        expect((e as { _tag?: string })._tag).toBe("ParseError")
        return String((e as Error).message)
      }
      throw new Error("expected a ParseError")
    }
    expect(messageOf(() => guardedToolNode(bridge(), [search], { maxCallsPerRun: 0 }))).toContain("maxCallsPerRun")
    expect(messageOf(() => guardedToolNode(bridge(), [search], { repeats: { max: 1.5 } }))).toContain("max")
    expect(
      messageOf(() => guardedToolNode(bridge(), [search], { permissions: { search: "maybe" as any } }))
    ).toContain("permissions")
    expect(messageOf(() => guardedToolNode(bridge(), [search], { retries: 3 } as any))).toContain("retries")
    expect(messageOf(() => guardedToolNode(bridge(), [{ name: "x" } as any]))).toContain("invoke")
  })

  it("two tools with one name are refused when the graph is built", () => {
    const { search } = makeTools()
    expect(() => guardedToolNode(bridge(), [search, search])).toThrow(/two tools are named "search"/)
  })
})

describe("guardedToolNode: a tool with a JSON schema (as MCP tools have)", () => {
  it("arguments are validated against the JSON schema: the refusal names each field, valid ones run", async () => {
    const ran: Array<unknown> = []
    const book = tool(async (args) => (ran.push(args), "booked"), {
      name: "book",
      description: "book a room",
      schema: {
        type: "object",
        properties: { room: { type: "string" }, nights: { type: "integer", minimum: 1 } },
        required: ["room", "nights"]
      }
    })
    const model = AgentMock.model([
      { toolCalls: [{ name: "book", args: { nights: 0 } }] },
      { toolCalls: [{ name: "book", args: { room: "12", nights: 2 } }] },
      "done"
    ])
    const out = await graphOf(model, guardedToolNode(bridge(), [book])).invoke(go)
    const [refused, booked] = toolMessages(out.messages)
    expect(refused!.status).toBe("error")
    expect(refused!.content).toContain("room: is missing")
    expect(refused!.content).toContain("nights:")
    expect(booked!.content).toBe("booked")
    expect(ran).toEqual([{ room: "12", nights: 2 }])
  })
})
