import { it as effectIt } from "@effect/vitest"
import { AIMessage, type AIMessageChunk, type BaseMessage, HumanMessage } from "@langchain/core/messages"
import { tool } from "@langchain/core/tools"
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph"
import { createReactAgent } from "@langchain/langgraph/prebuilt"
import { Ledger } from "agentarmour"
import { CascadeAnnotation, FALLBACK_KEY, LangGraphBridge, protectNode } from "agentarmour/langgraph"
import { AgentMock } from "agentarmour/testing"
import { Chunk, Effect, Fiber, Layer, TestClock } from "effect"
import { describe, expect, it } from "vitest"

import { recordingLedger } from "./support/ledger.js"

const search = tool(async ({ query }: { query: string }) => `results for ${query}`, {
  name: "search",
  description: "search the web",
  schema: { type: "object", properties: { query: { type: "string" } }, required: ["query"] }
})

/** waits (on real I/O turns, no wall-clock bound) until `done()` */
const waitFor = async (done: () => boolean) => {
  for (let i = 0; i < 100_000 && !done(); i++) await new Promise((r) => setImmediate(r))
  if (!done()) throw new Error("waitFor: never happened")
}

const tick = () => new Promise((r) => setImmediate(r))

const State = Object.assign({}, MessagesAnnotation.spec, CascadeAnnotation)
type S = { messages: Array<BaseMessage> }

describe("AgentMock.model", () => {
  it("answers each call with the next step as a real AIMessage: tool call ids, usage_metadata, model_name", async () => {
    const model = AgentMock.model([
      { toolCalls: [{ name: "search", args: { query: "effect" } }], usage: { input: 12, output: 5 } },
      { text: "done", model: "gpt-4o-mini" }
    ], { name: "scripted" })
    const first = await model.invoke([new HumanMessage("find effect")])
    expect(first.tool_calls).toEqual([
      { type: "tool_call", name: "search", args: { query: "effect" }, id: "call_scripted_1_0" }
    ])
    expect(first.usage_metadata).toEqual({ input_tokens: 12, output_tokens: 5, total_tokens: 17 })
    expect(first.response_metadata["model_name"]).toBe("scripted")
    const second = await model.invoke("and?")
    expect(second.content).toBe("done")
    expect(second.response_metadata["model_name"]).toBe("gpt-4o-mini")
    // no usage in the step: estimated from the text, never missing (budgets and pricing need it)
    expect(second.usage_metadata!.input_tokens).toBeGreaterThan(0)
    expect(second.usage_metadata!.output_tokens).toBeGreaterThan(0)
    expect(model.remaining).toBe(0)
    model.assertConsumed()
  })

  it("records the messages and the bound tools (name, description, JSON schema) of each call", async () => {
    const model = AgentMock.model(["a", "b"])
    const bound = model.bindTools([search], { tool_choice: "auto" })
    await bound.invoke([new HumanMessage("q1")])
    await model.invoke([new HumanMessage("q2")])
    expect(model.calls.map((c) => c.messages.map((m) => m.content))).toEqual([["q1"], ["q2"]])
    expect(model.calls[0]!.tools).toMatchObject([
      { name: "search", description: "search the web", parameters: { properties: { query: { type: "string" } } } }
    ])
    expect(model.calls[0]!.toolChoice).toBe("auto")
    expect(model.calls[1]!.tools).toEqual([])
  })

  it("streams text and tool_call_chunks that concatenate to the same message, usage on the last chunk", async () => {
    const model = AgentMock.model([{
      text: "let me search",
      toolCalls: [{ name: "search", args: { query: "x" }, id: "c1" }],
      invalidToolCalls: [{ name: "search", args: "{\"query\": \"x\",, \"limit\": 3}" }],
      usage: { input: 3, output: 4 }
    }])
    const chunks: Array<AIMessageChunk> = []
    for await (const chunk of await model.stream("hi")) chunks.push(chunk)
    expect(chunks.length).toBeGreaterThan(3)
    expect(chunks.some((c) => (c.tool_call_chunks ?? []).length > 0)).toBe(true)
    const whole = chunks.reduce((a, b) => a.concat(b))
    expect(whole.content).toBe("let me search")
    expect(whole.tool_calls).toEqual([{ type: "tool_call", name: "search", args: { query: "x" }, id: "c1" }])
    expect(whole.invalid_tool_calls).toMatchObject([
      { name: "search", args: "{\"query\": \"x\",, \"limit\": 3}", id: "call_agentmock_1_1" }
    ])
    expect(whole.usage_metadata).toMatchObject({ input_tokens: 3, output_tokens: 4, total_tokens: 7 })
    expect(whole.response_metadata["model_name"]).toBe("agentmock")
  })

  it("batch answers the steps in call order", async () => {
    const model = AgentMock.model(["one", "two", "three"])
    const out = await model.batch(["a", "b", "c"])
    expect(out.map((m) => m.content)).toEqual(["one", "two", "three"])
  })

  it("fails like the providers: 429 rate limit, 500 server error, a timeout, or your own error", async () => {
    const own = new Error("content filter")
    const model = AgentMock.model([{ fail: "rate_limit" }, { fail: "server_error" }, { fail: "timeout" }, {
      fail: own
    }])
    await expect(model.invoke("x")).rejects.toMatchObject({
      name: "RateLimitError",
      status: 429,
      headers: { "retry-after": "1" },
      error: { type: "rate_limit_error" },
      lc_error_code: "MODEL_RATE_LIMIT"
    })
    await expect(model.invoke("x")).rejects.toMatchObject({ name: "InternalServerError", status: 500 })
    await expect(model.invoke("x")).rejects.toMatchObject({
      name: "APIConnectionTimeoutError",
      message: "Request timed out."
    })
    await expect(model.invoke("x")).rejects.toBe(own)
  })

  it("a call past the script throws naming the call and the last messages; unused steps fail assertConsumed", async () => {
    const model = AgentMock.model(["only"])
    await model.invoke("first")
    await expect(model.invoke([new HumanMessage("what is the capital of France?")])).rejects.toThrow(
      /call 2 has no scripted step \(the script has 1\)\. Last messages: human: "what is the capital of France\?"/
    )
    const unused = AgentMock.model(["a", { text: "b" }])
    await unused.invoke("x")
    expect(() => unused.assertConsumed()).toThrow(
      /1 of 2 steps were not used \(1 calls made\); next unused: \{"text":"b"\}/
    )
  })

  it("a bad step is a ParseError naming its index and field", () => {
    expect(() => AgentMock.model([{ text: "ok" }, { fail: "overloaded" } as never])).toThrow(/\[1\][\s\S]*fail/)
    expect(() => AgentMock.model([{ latency: "-5 seconds" }])).toThrow(/latency[\s\S]*non-negative duration/)
  })
})

describe("AgentMock.model in LangGraph's prebuilt agent", () => {
  it("createReactAgent binds the tools, runs the call, and streams tokens and tool_call_chunks in messages mode", async () => {
    const model = AgentMock.model([{ toolCalls: [{ name: "search", args: { query: "x" } }] }, "done and dusted"])
    const agent = createReactAgent({ llm: model, tools: [search] })
    const streamed: Array<AIMessageChunk> = []
    for await (const [m] of await agent.stream({ messages: [new HumanMessage("hi")] }, { streamMode: "messages" })) {
      if (m.getType() === "ai") streamed.push(m as AIMessageChunk)
    }
    expect(model.calls.map((c) => c.tools.map((t) => t.name))).toEqual([["search"], ["search"]])
    expect(streamed.some((c) => c.tool_call_chunks?.[0]?.name === "search")).toBe(true)
    expect(streamed.map((c) => c.content).join("")).toBe("done and dusted")
    model.assertConsumed()
  })
})

describe("AgentMock.model in a protected node", () => {
  it("a budget charges the scripted usage, priced by the step's model name", async () => {
    const { layer, usage } = recordingLedger()
    const bridge = LangGraphBridge.make(layer)
    const model = AgentMock.model([{ text: "an answer", usage: { input: 1000, output: 200 }, model: "gpt-4o" }])
    const agent = protectNode(bridge, async (s: S) => ({ messages: [await model.invoke(s.messages)] }), {
      breaker: { name: "priced" },
      budget: { name: "priced" },
      pricing: { "gpt-4o": { inputPer1M: 2.5, outputPer1M: 10 } }
    })
    await new StateGraph(State).addNode("agent", agent as never).addEdge(START, "agent").addEdge("agent", END).compile()
      .invoke({ messages: [new HumanMessage("q")] }, { configurable: { thread_id: "t-priced" } })
    await bridge.dispose()
    expect(usage).toHaveLength(1)
    expect(usage[0]).toMatchObject({ node: "agent", runId: "t-priced", tokensIn: 1000, tokensOut: 200 })
    expect(usage[0]!.costUsd).toBeCloseTo(0.0045, 9)
  })
})

describe("AgentMock.hallucinate", () => {
  it("makes the steps of each ToolGuard failure", async () => {
    const model = AgentMock.model([
      AgentMock.hallucinate.unknownTool("serch"),
      AgentMock.hallucinate.malformedArgs("search"),
      AgentMock.hallucinate.invalidArgs("search", { query: 42 }),
      ...AgentMock.hallucinate.repeat({ toolCalls: [{ name: "search", args: { query: "x" }, id: "same" }] }, 3)
    ])
    const [unknown, malformed, invalid, r1, r2, r3] = await Promise.all(
      Array.from({ length: 6 }, () => model.invoke("go"))
    ).then((ms) => ms)
    expect(unknown!.tool_calls).toMatchObject([{ name: "serch", args: {} }])
    expect(malformed!.tool_calls).toEqual([])
    expect(malformed!.invalid_tool_calls).toMatchObject([{
      name: "search",
      args: "{\"query\": \"weather in Paris\", \"units\": }"
    }])
    expect(invalid!.tool_calls).toMatchObject([{ name: "search", args: { query: 42 } }])
    expect([r1, r2, r3].map((m) => m!.tool_calls![0]!.args)).toEqual([{ query: "x" }, { query: "x" }, { query: "x" }])
    expect(new Set([r1, r2, r3].map((m) => m!.tool_calls![0]!.id)).size).toBe(3)
  })

  it("a malformed call stays invalid when streamed (as LangGraph's streamMode \"messages\" calls the model)", async () => {
    const model = AgentMock.model([AgentMock.hallucinate.malformedArgs("search")])
    const chunks: Array<AIMessageChunk> = []
    for await (const chunk of await model.stream("go")) chunks.push(chunk)
    const whole = chunks.reduce((a, b) => a.concat(b))
    expect(whole.tool_calls).toEqual([])
    expect(whole.invalid_tool_calls).toHaveLength(1)
  })
})

describe("AgentMock virtual time", () => {
  const graphOf = (node: (s: S, config?: never) => Promise<unknown>) =>
    new StateGraph(State).addNode("agent", node as never).addEdge(START, "agent").addEdge("agent", END).compile()

  effectIt.effect(
    "a step's latency passes with TestClock.adjust inside a bridge whose layer provides the TestClock",
    () =>
      Effect.gen(function*() {
        const bridge = LangGraphBridge.make(Layer.setClock(yield* Effect.clock))
        const model = AgentMock.model([{ text: "after ten minutes", latency: "10 minutes" }])
        const agent = protectNode(bridge, async (s: S) => ({ messages: [await model.invoke(s.messages)] }), {
          breaker: { name: "slow", callTimeout: null }
        })
        const run = yield* Effect.fork(
          Effect.promise(() => graphOf(agent).invoke({ messages: [new HumanMessage("q")] }))
        )
        yield* Effect.promise(() => waitFor(() => model.calls.length === 1))
        yield* TestClock.adjust("9 minutes")
        expect(run.unsafePoll()).toBeNull()
        yield* TestClock.adjust("1 minute")
        const out = yield* Fiber.join(run)
        expect(out.messages.at(-1)!.content).toBe("after ten minutes")
        yield* Effect.promise(() => bridge.dispose())
      })
  )

  effectIt.effect(
    "an Effect node that calls the model through runInCall sleeps on the bridge's TestClock too",
    () =>
      Effect.gen(function*() {
        const bridge = LangGraphBridge.make(Layer.setClock(yield* Effect.clock))
        const model = AgentMock.model([{ text: "later", latency: "1 hour" }])
        let slept = false
        const agent = bridge.node((s: S) =>
          Effect.gen(function*() {
            yield* Effect.sleep("1 minute") // suspended: the model is called after the node's first tick
            slept = true
            const reply = yield* Effect.flatMap(
              LangGraphBridge.runInCall(() => model.invoke(s.messages)),
              (p) => Effect.promise(() => p)
            )
            return { messages: [reply] }
          })
        )
        const run = yield* Effect.fork(
          Effect.promise(() => graphOf(agent).invoke({ messages: [new HumanMessage("q")] }))
        )
        while (Chunk.isEmpty(yield* TestClock.sleeps())) yield* Effect.promise(tick)
        yield* TestClock.adjust("1 minute")
        yield* Effect.promise(() => waitFor(() => slept && model.calls.length === 1))
        yield* TestClock.adjust("1 hour")
        expect((yield* Fiber.join(run)).messages.at(-1)!.content).toBe("later")
        yield* Effect.promise(() => bridge.dispose())
      })
  )

  effectIt.effect(
    "the node times out after 30 s, the breaker opens, recovers after 60 s — in virtual time",
    () =>
      Effect.gen(function*() {
        const bridge = LangGraphBridge.make(Layer.mergeAll(Layer.setClock(yield* Effect.clock), Ledger.layerMemory))
        const model = AgentMock.model([{ text: "too slow", latency: "45 seconds" }, "fast answer"])
        const agent = protectNode(bridge, async (s: S) => ({ messages: [await model.invoke(s.messages)] }), {
          breaker: { name: "agent", callTimeout: "30 seconds", failureThreshold: 1, recoveryTimeout: "60 seconds" },
          fallback: { degrade: () => ({ messages: [new AIMessage("fallback")] }) }
        })
        const graph = graphOf(agent)
        const run = (q: string) => Effect.promise(() => graph.invoke({ messages: [new HumanMessage(q)] }))

        const first = yield* Effect.fork(run("one"))
        yield* Effect.promise(() => waitFor(() => model.calls.length === 1))
        yield* TestClock.adjust("30 seconds")
        const timedOut = yield* Fiber.join(first)
        expect(timedOut.messages.at(-1)!.content).toBe("fallback")
        expect(timedOut[FALLBACK_KEY]).toBe("degrade")

        const whileOpen = yield* run("two")
        expect(whileOpen.messages.at(-1)!.content).toBe("fallback")
        expect(model.calls).toHaveLength(1) // OPEN: the model is not called

        yield* TestClock.adjust("60 seconds")
        const recovered = yield* run("three")
        expect(recovered.messages.at(-1)!.content).toBe("fast answer")
        model.assertConsumed()

        const transitions = yield* Effect.promise(() =>
          bridge.runtime.runPromise(
            Effect.flatMap(Ledger.Ledger, (l) => Effect.zipRight(l.flush, l.transitions({ breaker: "agent" })))
          )
        )
        expect(transitions.map((t) => `${t.fromState}->${t.toState}`).reverse()).toEqual([
          "CLOSED->OPEN",
          "OPEN->HALF_OPEN",
          "HALF_OPEN->CLOSED"
        ])
        yield* Effect.promise(() => bridge.dispose())
      })
  )
})
