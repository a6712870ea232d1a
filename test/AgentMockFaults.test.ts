import { it as effectIt } from "@effect/vitest"
import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages"
import { tool } from "@langchain/core/tools"
import { Annotation, END, MemorySaver, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph"
import { ToolNode, toolsCondition } from "@langchain/langgraph/prebuilt"
import { CascadeAnnotation, FALLBACK_KEY, LangGraphBridge, protectNode } from "agentarmour/langgraph"
import { AgentMock } from "agentarmour/testing"
import { Effect, Fiber, Layer, TestClock } from "effect"
import { describe, expect, it } from "vitest"

const waitFor = async (done: () => boolean) => {
  for (let i = 0; i < 100_000 && !done(); i++) await new Promise((r) => setImmediate(r))
  if (!done()) throw new Error("waitFor: never happened")
}

describe("AgentMock.faulty", () => {
  it("the n-th call does the n-th fault, then the real node", async () => {
    const node = AgentMock.faulty(async (s: { n: number }) => ({ n: s.n + 1 }), ["throw", { garbage: 42 }, "ok"])
    await expect(node({ n: 1 })).rejects.toBeInstanceOf(AgentMock.InjectedFault)
    await expect(node({ n: 1 })).resolves.toBe(42)
    await expect(node({ n: 1 })).resolves.toEqual({ n: 2 })
    await expect(node({ n: 5 })).resolves.toEqual({ n: 6 }) // after the list: "ok"
    expect(node.calls).toBe(4)
  })

  it("\"hang\" never answers until the call's signal aborts", async () => {
    const node = AgentMock.faulty(async (_state: object, _config?: { signal?: AbortSignal }) => ({}), ["hang"])
    const controller = new AbortController()
    const pending = node({}, { signal: controller.signal })
    let settled = false
    void pending.then(() => (settled = true), () => (settled = true))
    await new Promise((r) => setImmediate(r))
    expect(settled).toBe(false)
    controller.abort(new Error("cancelled"))
    await expect(pending).rejects.toThrow("cancelled")
  })

  it("a bad fault is a ParseError naming its index", () => {
    expect(() => AgentMock.faulty(async () => ({}), ["ok", "explode" as never])).toThrow(/\[1\]/)
  })

  const State = Annotation.Root({ ...CascadeAnnotation, out: Annotation<string>() })
  const graphOf = (node: unknown) =>
    new StateGraph(State).addNode("work", node as never).addEdge(START, "work").addEdge("work", END).compile()

  effectIt.effect(
    "a fault schedule in a protected node, in virtual time: hang -> timeout, delay, throw, garbage",
    () =>
      Effect.gen(function*() {
        const bridge = LangGraphBridge.make(Layer.setClock(yield* Effect.clock))
        const work = AgentMock.faulty(async () => ({ out: "real" }), [
          "hang",
          { delay: "10 seconds" },
          "throw",
          { garbage: "not an update" }
        ])
        const node = protectNode(bridge, work, {
          breaker: { name: "work", callTimeout: "30 seconds", failureThreshold: 10 },
          fallback: { degrade: () => ({ out: "fallback" }) }
        })
        const graph = graphOf(node)
        const run = () => Effect.promise(() => graph.invoke({ out: "" }))

        const hung = yield* Effect.fork(run())
        yield* Effect.promise(() => waitFor(() => work.calls === 1))
        yield* TestClock.adjust("30 seconds")
        expect((yield* Fiber.join(hung)).out).toBe("fallback")

        const delayed = yield* Effect.fork(run())
        yield* Effect.promise(() => waitFor(() => work.calls === 2))
        yield* TestClock.adjust("10 seconds")
        expect((yield* Fiber.join(delayed)).out).toBe("real")

        const thrown = yield* run()
        expect([thrown.out, thrown[FALLBACK_KEY]]).toEqual(["fallback", "degrade"])
        const garbage = yield* run()
        expect(garbage.out).toBe("fallback")
        expect((yield* run()).out).toBe("real")
        yield* Effect.promise(() => bridge.dispose())
      })
  )
})

const call = (name: string, args: object, id: string) => ({ name, args, id, type: "tool_call" as const })
const trajectory = [
  new HumanMessage("book a trip"),
  new AIMessage({ content: "", tool_calls: [call("search", { q: "flights", limit: 5 }, "1")] }),
  new ToolMessage({ content: "3 flights", tool_call_id: "1" }),
  new AIMessage({ content: "", tool_calls: [call("book", { flight: "AF1" }, "2"), call("email", { to: "me" }, "3")] }),
  new AIMessage("booked")
]

describe("AgentMock.expectTrajectory", () => {
  it("strict: the same calls in the same order; a mismatch throws TrajectoryMismatchError with a diff", () => {
    AgentMock.expectTrajectory(trajectory, [
      { tool: "search", args: { q: "flights", limit: 5 } },
      { tool: "book", args: { flight: "AF1" } },
      { tool: "email" }
    ])
    let error: unknown
    try {
      AgentMock.expectTrajectory(trajectory, [{ tool: "search" }, { tool: "email" }, { tool: "book" }])
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(AgentMock.TrajectoryMismatchError)
    expect((error as AgentMock.TrajectoryMismatchError)._tag).toBe("TrajectoryMismatchError")
    expect((error as Error).message).toBe(
      [
        "the tool calls do not match (mode strict, args exact):",
        "  1. search({\"limit\":5,\"q\":\"flights\"})",
        "- 2. email",
        "+ 2. book({\"flight\":\"AF1\"})",
        "- 3. book",
        "+ 3. email({\"to\":\"me\"})"
      ].join("\n")
    )
  })

  it("unordered, subset and superset modes; args exact, ignore and subset", () => {
    const all = [{ tool: "email" }, { tool: "book" }, { tool: "search" }]
    AgentMock.expectTrajectory(trajectory, all, { mode: "unordered" })
    expect(() => AgentMock.expectTrajectory(trajectory, all.slice(1), { mode: "unordered" })).toThrow(
      /\+ email\(\{"to":"me"\}\) {3}\(called, not expected\)/
    )
    AgentMock.expectTrajectory(trajectory, [...all, { tool: "cancel" }], { mode: "subset" })
    expect(() => AgentMock.expectTrajectory(trajectory, all.slice(1), { mode: "subset" })).toThrow(
      /called, not expected/
    )
    AgentMock.expectTrajectory(trajectory, [{ tool: "book" }], { mode: "superset" })
    expect(() => AgentMock.expectTrajectory(trajectory, [{ tool: "cancel" }], { mode: "superset" })).toThrow(
      /- cancel {3}\(expected, not called\)/
    )
    const search = [{ tool: "search", args: { q: "flights" } }]
    expect(() => AgentMock.expectTrajectory(trajectory, search, { mode: "superset" })).toThrow(/expected, not called/)
    AgentMock.expectTrajectory(trajectory, search, { mode: "superset", args: "subset" })
    AgentMock.expectTrajectory(trajectory, [{ tool: "search", args: { q: "hotels" } }], {
      mode: "superset",
      args: "ignore"
    })
  })
})

describe("AgentMock.nodePath", () => {
  it("the nodes a thread ran, in order, from the checkpointer's history", async () => {
    const lookup = tool(async () => "sunny", {
      name: "weather",
      description: "the weather",
      schema: { type: "object", properties: {} }
    })
    const model = AgentMock.model([{ toolCalls: [{ name: "weather", args: {} }] }, {
      toolCalls: [{ name: "weather", args: {} }]
    }, "sunny twice"])
    const bound = model.bindTools([lookup])
    const graph = new StateGraph(MessagesAnnotation)
      .addNode("agent", async (s) => ({ messages: [await bound.invoke(s.messages)] }))
      .addNode("tools", new ToolNode([lookup]))
      .addEdge(START, "agent")
      .addConditionalEdges("agent", toolsCondition, ["tools", END])
      .addEdge("tools", "agent")
      .compile({ checkpointer: new MemorySaver() })
    const config = { configurable: { thread_id: "path" } }
    await graph.invoke({ messages: [new HumanMessage("weather?")] }, config)
    expect(await AgentMock.nodePath(graph, config)).toEqual(["agent", "tools", "agent", "tools", "agent"])
    model.assertConsumed()
  })
})
