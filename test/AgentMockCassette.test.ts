import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages"
import { tool } from "@langchain/core/tools"
import { Annotation, END, MemorySaver, MessagesAnnotation, Send, START, StateGraph } from "@langchain/langgraph"
import { ToolNode, toolsCondition } from "@langchain/langgraph/prebuilt"
import { AgentMock } from "agentarmour/testing"
import { afterEach, describe, expect, it, vi } from "vitest"

import { tempDir } from "./support/tmp.js"

const search = tool(async ({ query }: { query: string }) => `results for ${query}`, {
  name: "search",
  description: "search the web",
  schema: { type: "object", properties: { query: { type: "string" } }, required: ["query"] }
})

/** a ReAct agent: the model (bound to `search`) and a ToolNode */
const reactAgent = (model: { bindTools: (tools: Array<typeof search>) => any }) => {
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
    { toolCalls: [{ name: "search", args: { query: "effect" } }], usage: { input: 10, output: 3 } },
    { text: "Effect is a TypeScript library.", usage: { input: 20, output: 6 } }
  ], { name: "gpt-test" })
/** never called: zero steps, so any call throws */
const untouchable = () => AgentMock.model([], { name: "gpt-test" })

const contents = (messages: ReadonlyArray<BaseMessage>) => messages.map((m) => [m.getType(), m.content])

afterEach(() => {
  vi.unstubAllEnvs()
})

describe("AgentMock.cassette", () => {
  it("records a ReAct run once with a counting model and replays it with a model that throws if called", async () => {
    const file = join(tempDir("cassette-"), "react.json")
    const live = script()
    const recorded = await reactAgent(AgentMock.cassette(live, { file, mode: "record" })).invoke(
      { messages: [new HumanMessage("what is effect?")] },
      { configurable: { thread_id: "t1" } }
    )
    expect(live.calls).toHaveLength(2)
    const saved = JSON.parse(readFileSync(file, "utf8"))
    expect(saved.version).toBe(AgentMock.CASSETTE_VERSION)
    expect(saved.entries.map((e: { node: string; thread: string }) => [e.thread, e.node])).toEqual([
      ["t1", "agent"],
      ["t1", "agent"]
    ])

    const never = untouchable()
    // a new run: new message ids, new run ids; still the same requests
    const replayed = await reactAgent(AgentMock.cassette(never, { file, mode: "lockdown" })).invoke(
      { messages: [new HumanMessage("what is effect?")] },
      { configurable: { thread_id: "t1" } }
    )
    expect(never.calls).toHaveLength(0)
    expect(contents(replayed.messages)).toEqual(contents(recorded.messages))
    expect((replayed.messages.at(-1) as AIMessage).usage_metadata).toMatchObject({ input_tokens: 20, output_tokens: 6 })
  })

  it("the key leaves out the ids that change from run to run: message ids and tool call ids", async () => {
    const file = join(tempDir("cassette-"), "ids.json")
    const conversation = (id: string) => [
      new HumanMessage({ content: "weather?", id: `human-${id}` }),
      new AIMessage({
        content: "",
        id: `ai-${id}`,
        tool_calls: [{ name: "weather", args: { city: "Paris" }, id: `call-${id}`, type: "tool_call" }]
      }),
      new ToolMessage({ content: "sunny", tool_call_id: `call-${id}`, id: `tool-${id}` })
    ]
    await AgentMock.cassette(AgentMock.model(["sunny in Paris"], { name: "gpt-test" }), { file, mode: "record" })
      .invoke(conversation("run-1"))
    const replayed = await AgentMock.cassette(untouchable(), { file, mode: "lockdown" }).invoke(conversation("run-2"))
    expect(replayed.content).toBe("sunny in Paris")
    // what the model is asked does count
    const other = conversation("run-3")
    other[2] = new ToolMessage({ content: "rainy", tool_call_id: "call-run-3" })
    await expect(AgentMock.cassette(untouchable(), { file, mode: "lockdown" }).invoke(other)).rejects.toThrow(
      /messages\[2\]\.content: recorded "sunny", now "rainy"/
    )
  })

  it("parallel Send branches replay whatever the order they run in; equal requests replay in recorded order", async () => {
    const file = join(tempDir("cassette-"), "fanout.json")
    const State = Annotation.Root({
      topics: Annotation<Array<string>>(),
      answers: Annotation<Array<string>>({ reducer: (a, b) => [...a, ...b], default: () => [] })
    })
    const fanout = (model: any, order: (ts: Array<string>) => Array<string>) =>
      new StateGraph(State)
        .addNode("worker", async (s: { topic: string }) => ({
          answers: [String((await model.invoke([new HumanMessage(s.topic)])).content)]
        }))
        .addConditionalEdges(START, (s) => order(s.topics).map((topic) => new Send("worker", { topic })))
        .addEdge("worker", END)
        .compile()
    const live = AgentMock.model(["about cats", "about dogs", "about owls", "cats again"], { name: "gpt-test" })
    const rec = AgentMock.cassette(live, { file, mode: "record" })
    const recorded = await fanout(rec, (ts) => ts).invoke({ topics: ["cats", "dogs", "owls"] })
    await rec.invoke([new HumanMessage("cats")]) // a second, equal request: answered "cats again"
    expect([...recorded.answers].sort()).toEqual(["about cats", "about dogs", "about owls"])

    const replay = AgentMock.cassette(untouchable(), { file, mode: "lockdown" })
    const replayed = await fanout(replay, (ts) => [...ts].reverse()).invoke({ topics: ["cats", "dogs", "owls"] })
    expect([...replayed.answers].sort()).toEqual(["about cats", "about dogs", "about owls"])
    expect((await replay.invoke([new HumanMessage("cats")])).content).toBe("cats again")
  })

  it("lockdown: a call not recorded fails naming the nearest recorded call and how it differs", async () => {
    const file = join(tempDir("cassette-"), "miss.json")
    const rec = AgentMock.cassette(AgentMock.model(["4", "Paris"], { name: "gpt-test" }), { file, mode: "record" })
    await rec.invoke([new HumanMessage("what is 2+2?")])
    await rec.invoke([new HumanMessage("capital of France?")])

    const never = untouchable()
    const locked = AgentMock.cassette(never, { file, mode: "lockdown" })
    const miss = await locked.invoke([new HumanMessage("what is 2+3?")]).catch((e: unknown) => e)
    expect(miss).toBeInstanceOf(AgentMock.CassetteMissError)
    expect((miss as Error).message).toContain("call 1 (thread \"\", node \"\") was not recorded")
    expect((miss as Error).message).toContain(
      "The nearest recorded call is #1 (thread \"\", node \"\"); it differs in: " +
        "messages[0].content: recorded \"what is 2+2?\", now \"what is 2+3?\""
    )
    expect(never.calls).toHaveLength(0)
    // tools bound differently: the difference names the tools
    const withTools = await locked.bindTools([search]).invoke([new HumanMessage("what is 2+2?")]).catch((e) => e)
    expect((withTools as Error).message).toMatch(/differs in: tools: recorded 0 items, now 1/)
  })

  it("record-missing adds what is missing; replay calls the model for a miss without recording it", async () => {
    const file = join(tempDir("cassette-"), "missing.json")
    const first = AgentMock.model(["one"], { name: "gpt-test" })
    await AgentMock.cassette(first, { file, mode: "record-missing" }).invoke("q1")
    const second = AgentMock.model(["two"], { name: "gpt-test" })
    const adding = AgentMock.cassette(second, { file, mode: "record-missing" })
    expect((await adding.invoke("q1")).content).toBe("one") // replayed
    expect((await adding.invoke("q2")).content).toBe("two") // recorded
    expect(second.calls).toHaveLength(1)
    expect(JSON.parse(readFileSync(file, "utf8")).entries).toHaveLength(2)

    const third = AgentMock.model(["live three"], { name: "gpt-test" })
    const replaying = AgentMock.cassette(third, { file })
    expect(replaying.mode).toBe("replay")
    expect((await replaying.invoke("q3")).content).toBe("live three")
    expect(JSON.parse(readFileSync(file, "utf8")).entries).toHaveLength(2)
  })

  it("AGENTARMOUR_CASSETTE overrides the mode in the code", async () => {
    const file = join(tempDir("cassette-"), "env.json")
    vi.stubEnv("AGENTARMOUR_CASSETTE", "lockdown")
    const never = untouchable()
    const c = AgentMock.cassette(never, { file, mode: "record" })
    expect(c.mode).toBe("lockdown")
    await expect(c.invoke("q")).rejects.toThrow(/the cassette has no recorded calls/)
    vi.stubEnv("AGENTARMOUR_CASSETTE", "sometimes")
    expect(() => AgentMock.cassette(never, { file })).toThrow(/AGENTARMOUR_CASSETTE: expected one of replay, record/)
  })

  it("API keys, authorization headers and the redact paths are never written; replay still matches", async () => {
    const file = join(tempDir("cassette-"), "secrets.json")
    class Provider extends AgentMock.MockChatModel {
      override _identifyingParams() {
        return {
          model_name: "gpt-test",
          temperature: 0,
          apiKey: "sk-proj-abcdefghijklmnop1234",
          configuration: { defaultHeaders: { Authorization: "Bearer abc.def.ghi", "x-api-key": "k-123456" } }
        }
      }
    }
    await AgentMock.cassette(new Provider(["noted"]), {
      file,
      mode: "record",
      redact: ["request.messages.*.content"]
    }).invoke([new HumanMessage("my address is 1 Secret Lane")])
    const text = readFileSync(file, "utf8")
    for (const secret of ["sk-proj", "Bearer", "abc.def.ghi", "k-123456", "apiKey", "1 Secret Lane"]) {
      expect(text).not.toContain(secret)
    }
    expect(text).toContain("\"temperature\": 0")
    const replayed = await AgentMock.cassette(new Provider([]), { file, mode: "lockdown" }).invoke([
      new HumanMessage("my address is 1 Secret Lane")
    ])
    expect(replayed.content).toBe("noted")
  })

  it("a cassette of another format version is refused with a message saying how to record it again", async () => {
    const file = join(tempDir("cassette-"), "old.json")
    writeFileSync(file, JSON.stringify({ version: 99, entries: [] }))
    await expect(AgentMock.cassette(untouchable(), { file, mode: "lockdown" }).invoke("q")).rejects.toThrow(
      /version 99 is not 1; record it again \(AGENTARMOUR_CASSETTE=record\)/
    )
  })
})
