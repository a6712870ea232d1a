import { describe, expect, expectTypeOf, it } from "vitest"
import { Annotation, Command, END, MemorySaver, START, StateGraph } from "@langchain/langgraph"
import { Effect } from "effect"
import { BreakerRegistry, Ledger } from "agentarmour"
import {
  CascadeAnnotation,
  FALLBACK_KEY,
  LangGraphBridge,
  type Markers,
  type Outcome,
  protectNode,
  TRACEBACK_KEY
} from "agentarmour/langgraph"

const State = Annotation.Root({
  ...CascadeAnnotation,
  query: Annotation<string>(),
  research: Annotation<string | undefined>(),
  summary: Annotation<string | undefined>(),
  visited: Annotation<ReadonlyArray<string>>({ reducer: (a, b) => [...a, ...b], default: () => [] })
})
type S = typeof State.State

function travelAgentTimesOut(): never {
  throw new Error("travel agent: upstream LLM timed out")
}

const ledgerOf = <A>(bridge: LangGraphLedgerBridge, f: (l: Ledger.Ledger) => Effect.Effect<A, unknown>) =>
  bridge.runtime.runPromise(Effect.flatMap(Ledger.Ledger, f))
type LangGraphLedgerBridge = LangGraphBridge.Bridge<never>

const snapshotOf = (bridge: LangGraphLedgerBridge) =>
  bridge.runtime.runPromise(Effect.flatMap(BreakerRegistry.BreakerRegistry, (r) => r.snapshot))

/** router -> (summariser | backup) -> END, the router picking with a Command */
const handoffGraph = (router: any) =>
  new StateGraph(State)
    .addNode("router", router, { ends: ["summariser", "backup"] })
    .addNode("summariser", (s: S) => ({ summary: `summary of ${s.research}`, visited: ["summariser"] }))
    .addNode("backup", (s: S) => ({ summary: `backup summary of ${s.research}`, visited: ["backup"] }))
    .addEdge(START, "router")
    .addEdge("summariser", END)
    .addEdge("backup", END)

describe("protectNode with Command", () => {
  it("a fallback answering with a Command navigates, carries the markers in its update, and all reports agree", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    const outcomes: Array<Outcome> = []
    const router = protectNode(bridge, async (_s: S, config): Promise<Command> => {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 5_000)
        config.signal?.addEventListener("abort", () => {
          clearTimeout(timer)
          reject(new Error("aborted"))
        })
      })
      return new Command({ goto: "summariser", update: { research: "too late" } })
    }, {
      breaker: { name: "travel", callTimeout: "50 millis" },
      fallback: { degrade: (s: S) => new Command({ goto: "backup", update: { research: `cached ${s.query}` } }) },
      onOutcome: (o) => void outcomes.push(o)
    })
    const out = await handoffGraph(router).compile().invoke({ query: "Lisbon" })
    expect(out.visited).toEqual(["backup"])
    expect(out.summary).toBe("backup summary of cached Lisbon")
    expect(out[FALLBACK_KEY]).toBe("degrade")
    expect(out[TRACEBACK_KEY]).toContain("callTimeout of 50 ms")
    expect(outcomes).toMatchObject([{ node: "router", breaker: "travel", outcome: "fallback", fallback: "degrade" }])
    const fallbacks = await ledgerOf(bridge, (l) => l.fallbacks())
    expect(fallbacks.map((f) => [f.breakerName, f.strategy])).toEqual([["travel", "degrade"]])
    await bridge.dispose()
  })

  it("the cache replays a node's last Command with the markers merged into its update", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    let healthy = true
    const outcomes: Array<Outcome> = []
    const router = protectNode(bridge, (s: S) => {
      if (!healthy) travelAgentTimesOut()
      return new Command({ goto: "summariser", update: { research: `fresh ${s.query}` } })
    }, { breaker: { name: "travel" }, onOutcome: (o) => void outcomes.push(o) })
    const graph = handoffGraph(router).compile()
    const first = await graph.invoke({ query: "Porto" })
    expect(first[FALLBACK_KEY]).toBeUndefined()
    healthy = false
    const out = await graph.invoke({ query: "Porto" })
    expect(out.visited).toEqual(["summariser"])
    expect(out.research).toBe("fresh Porto")
    expect(out[FALLBACK_KEY]).toBe("cache")
    expect(out[TRACEBACK_KEY]).toContain("travelAgentTimesOut")
    expect(outcomes.map((o) => [o.outcome, o.fallback])).toEqual([["ok", undefined], ["fallback", "cache"]])
    const fallbacks = await ledgerOf(bridge, (l) => l.fallbacks())
    expect(fallbacks.map((f) => f.strategy)).toEqual(["cache"])
    await bridge.dispose()
  })

  it("a node returning a Command may fall back to a plain update: the types are independent", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    const paged: Array<string> = []
    const router = protectNode(
      bridge,
      (): Command => travelAgentTimesOut(),
      {
        breaker: { name: "travel" },
        fallback: {
          escalate: async (name: string, s: S) => {
            paged.push(name)
            return { research: `a human looked up ${s.query}` }
          }
        }
      }
    )
    expectTypeOf(router).returns.resolves.toEqualTypeOf<Command | (Partial<{ research: string }> & Markers) | Markers>()
    const graph = new StateGraph(State)
      .addNode("router", router, { ends: ["summariser"] })
      .addNode("summariser", (s: S) => ({ summary: `summary of ${s.research}` }))
      .addEdge(START, "router")
      .addEdge("router", "summariser")
      .addEdge("summariser", END)
      .compile()
    const out = await graph.invoke({ query: "Faro" })
    expect(paged).toEqual(["travel"])
    expect(out.summary).toBe("summary of a human looked up Faro")
    expect(out[FALLBACK_KEY]).toBe("escalate")
    const fallbacks = await ledgerOf(bridge, (l) => l.fallbacks())
    expect(fallbacks.map((f) => f.strategy)).toEqual(["escalate"])
    await bridge.dispose()
  })
})
