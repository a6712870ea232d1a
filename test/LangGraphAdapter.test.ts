import { NodeSdk } from "@effect/opentelemetry"
import { Annotation, Command, END, interrupt, MemorySaver, START, StateGraph } from "@langchain/langgraph"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
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
import { Effect, Layer } from "effect"
import { describe, expect, expectTypeOf, it, vi } from "vitest"

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

/** START -> researcher -> END, compiled (with a checkpointer when given) */
const oneNode = (node: any, checkpointer?: MemorySaver) =>
  new StateGraph(State)
    .addNode("researcher", node)
    .addEdge(START, "researcher")
    .addEdge("researcher", END)
    .compile(checkpointer === undefined ? {} : { checkpointer })

describe("protectNode with Command", () => {
  it("a fallback's Command navigates and carries the markers; onOutcome, ledger and markers agree", async () => {
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

describe("escalate by interrupt, across resume", () => {
  const pausedGraph = (
    bridge: LangGraphLedgerBridge,
    calls: { node: number; notified: number },
    outcomes: Array<Outcome>
  ) => {
    const research = protectNode(bridge, async (): Promise<{ research: string }> => {
      calls.node++
      return travelAgentTimesOut()
    }, {
      breaker: "research",
      fallback: { escalate: async () => void calls.notified++, mode: "interrupt" },
      onOutcome: (o) => void outcomes.push(o)
    })
    return new StateGraph(State)
      .addNode("researcher", research)
      .addNode("summariser", (s: S) => ({ summary: `summary of ${s.research}` }))
      .addEdge(START, "researcher")
      .addEdge("researcher", "summariser")
      .addEdge("summariser", END)
      .compile({ checkpointer: new MemorySaver() })
  }

  it("records failure and escalation once at the pause; resume answers without re-running the node", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    const calls = { node: 0, notified: 0 }
    const outcomes: Array<Outcome> = []
    const graph = pausedGraph(bridge, calls, outcomes)
    const config = { configurable: { thread_id: "esc-1" } }
    const paused = await graph.invoke({ query: "q" }, config)
    expect(paused.summary).toBeUndefined()
    const pending = (await graph.getState(config)).tasks.flatMap((t) => t.interrupts)
    expect(pending).toHaveLength(1)
    expect(pending[0]?.value).toMatchObject({ node: "researcher", breaker: "research" })
    expect(calls).toEqual({ node: 1, notified: 1 })
    expect((await ledgerOf(bridge, (l) => l.failures())).length).toBe(1)
    expect((await ledgerOf(bridge, (l) => l.fallbacks())).map((f) => f.strategy)).toEqual(["escalate"])

    const done = await graph.invoke(new Command({ resume: { research: "written by a human" } }), config)
    expect(done.research).toBe("written by a human")
    expect(done.summary).toBe("summary of written by a human")
    expect(done[FALLBACK_KEY]).toBe("escalate")
    expect(done[TRACEBACK_KEY]).toContain("travelAgentTimesOut")
    expect(calls).toEqual({ node: 1, notified: 1 })
    expect((await ledgerOf(bridge, (l) => l.failures())).length).toBe(1)
    expect((await ledgerOf(bridge, (l) => l.fallbacks())).map((f) => f.strategy)).toEqual(["escalate"])
    const snapshot = await snapshotOf(bridge)
    expect(snapshot["research"]).toMatchObject({ state: "CLOSED", failures: 1, totalCalls: 1 })
    expect(outcomes).toMatchObject([{ node: "researcher", outcome: "fallback", fallback: "escalate" }])
    await bridge.dispose()
  })

  it("a resume addressed to the interrupt's id answers the same way", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    const calls = { node: 0, notified: 0 }
    const graph = pausedGraph(bridge, calls, [])
    const config = { configurable: { thread_id: "esc-2" } }
    await graph.invoke({ query: "q" }, config)
    const id = (await graph.getState(config)).tasks.flatMap((t) => t.interrupts)[0]?.id
    expect(id).toBeDefined()
    const done = await graph.invoke(new Command({ resume: { [id!]: { research: "by id" } } }), config)
    expect(done.summary).toBe("summary of by id")
    expect(calls.node).toBe(1)
    await bridge.dispose()
  })

  it("the escalation is in the checkpoint: a fresh graph and bridge (another process) resume it", async () => {
    const checkpointer = new MemorySaver()
    let calls = 0
    const build = (bridge: LangGraphLedgerBridge) =>
      new StateGraph(State)
        .addNode(
          "researcher",
          protectNode(bridge, (): { research: string } => {
            calls++
            return travelAgentTimesOut()
          }, { breaker: "research", fallback: { escalate: () => undefined, mode: "interrupt" } })
        )
        .addEdge(START, "researcher")
        .addEdge("researcher", END)
        .compile({ checkpointer })
    const config = { configurable: { thread_id: "esc-4" } }
    const first = LangGraphBridge.make(Ledger.layerMemory)
    await build(first).invoke({ query: "q" }, config)
    await first.dispose()
    const second = LangGraphBridge.make(Ledger.layerMemory)
    const done = await build(second).invoke(new Command({ resume: { research: "answered elsewhere" } }), config)
    expect(done.research).toBe("answered elsewhere")
    expect(done[FALLBACK_KEY]).toBe("escalate")
    expect(calls).toBe(1)
    expect(await ledgerOf(second, (l) => l.failures())).toEqual([])
    await second.dispose()
  })

  it("a node that asked its own question before failing gets its escalation answered in the next slot", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    let calls = 0
    const research = protectNode(bridge, (s: S): { research: string } => {
      calls++
      const go = interrupt(`research ${s.query}?`) as string
      if (go === "yes") travelAgentTimesOut()
      return { research: "unreachable" }
    }, { breaker: "research", fallback: { escalate: () => undefined, mode: "interrupt" } })
    const graph = oneNode(research, new MemorySaver())
    const config = { configurable: { thread_id: "esc-3" } }
    await graph.invoke({ query: "q" }, config)
    await graph.invoke(new Command({ resume: "yes" }), config)
    expect(calls).toBe(2)
    const pending = (await graph.getState(config)).tasks.flatMap((t) => t.interrupts)
    expect(pending[0]?.value).toMatchObject({ breaker: "research" })
    const done = await graph.invoke(new Command({ resume: { research: "from a human" } }), config)
    expect(done.research).toBe("from a human")
    expect(calls).toBe(2)
    await bridge.dispose()
  })
})

describe("protectNode around a compiled subgraph", () => {
  const Inner = Annotation.Root({ ...State.spec })
  const innerGraph = (step: (s: S) => unknown) =>
    new StateGraph(Inner)
      .addNode("lookup", (s: S) => ({ research: `looked up ${s.query}` }))
      .addNode("step", step as any)
      .addEdge(START, "lookup")
      .addEdge("lookup", "step")
      .addEdge("step", END)
      .compile()
  const parentGraph = (node: any) =>
    new StateGraph(State)
      .addNode("team", node, { ends: ["summariser"] })
      .addNode("summariser", (s: S) => ({ summary: `summary of ${s.research}` }))
      .addEdge(START, "team")
      .addEdge("team", "summariser")
      .addEdge("summariser", END)
      .compile()

  it("the subgraph's result is the node's update", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    const team = protectNode(bridge, innerGraph((s) => ({ research: `${s.research}, checked` })), { breaker: "team" })
    const out = await parentGraph(team).invoke({ query: "q" })
    expect(out.summary).toBe("summary of looked up q, checked")
    expect(out[FALLBACK_KEY]).toBeUndefined()
    await bridge.dispose()
  })

  it("a failure anywhere in the subgraph is one failure of the node, answered by its fallback", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    const team = protectNode(bridge, innerGraph(() => travelAgentTimesOut()), {
      breaker: "team",
      fallback: { degrade: (s: S) => ({ research: `degraded ${s.query}` }) }
    })
    const out = await parentGraph(team).invoke({ query: "q" })
    expect(out.summary).toBe("summary of degraded q")
    expect(out[FALLBACK_KEY]).toBe("degrade")
    expect(out[TRACEBACK_KEY]).toContain("travel agent: upstream LLM timed out")
    expect((await snapshotOf(bridge))["team"]).toMatchObject({ failures: 1, totalCalls: 1 })
    await bridge.dispose()
  })

  it("a Command to the parent graph from inside the subgraph passes through, uncounted", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    const team = protectNode(
      bridge,
      innerGraph((s) =>
        new Command({ graph: Command.PARENT, goto: "summariser", update: { research: `${s.research}!` } })
      ),
      { breaker: "team", fallback: { degrade: () => ({ research: "wrong: the fallback answered" }) } }
    )
    const out = await parentGraph(team).invoke({ query: "q" })
    expect(out.summary).toBe("summary of looked up q!")
    expect(out[FALLBACK_KEY]).toBeUndefined()
    expect(await ledgerOf(bridge, (l) => l.failures())).toEqual([])
    await bridge.dispose()
  })
})

describe("a node returning something that is not an update", () => {
  const values: ReadonlyArray<[string, unknown, string]> = [
    ["a string", "done", `a string ("done")`],
    ["a number", 42, "a number (42)"],
    ["a boolean", true, "a boolean (true)"],
    ["a bigint", 7n, "a bigint (7n)"],
    ["a symbol", Symbol("x"), "a symbol (Symbol(x))"],
    ["an array", ["a", "b"], "an array of 2 items"]
  ]
  for (const [what, value, described] of values) {
    it(`${what} is a failure of that node: counted, answered by the fallback, named in the message`, async () => {
      const bridge = LangGraphBridge.make(Ledger.layerMemory)
      const outcomes: Array<Outcome> = []
      const research = protectNode(bridge, (): any => value, {
        breaker: "research",
        fallback: { degrade: () => ({ research: "backup" }) },
        onOutcome: (o) => void outcomes.push(o)
      })
      const out = await oneNode(research)
        .invoke({ query: "q" })
      expect(out.research).toBe("backup")
      expect(out[FALLBACK_KEY]).toBe("degrade")
      const message = `node "researcher" returned ${described}`
      expect(out[TRACEBACK_KEY]).toContain(message)
      expect(outcomes[0]?.error).toContain(message)
      expect((await snapshotOf(bridge))["research"]).toMatchObject({ failures: 1 })
      const failures = await ledgerOf(bridge, (l) => l.failures())
      expect(failures.map((f) => [f.breakerName, f.errorType])).toEqual([["research", "InvalidUpdateError"]])
      await bridge.dispose()
    })
  }

  it("outside a graph the message names the breaker", async () => {
    const bridge = LangGraphBridge.make()
    const research = protectNode(bridge, (): any => "oops", { breaker: "research" })
    const out = await research({ query: "q" } as S)
    expect(out[TRACEBACK_KEY]).toContain(`node "research" returned a string ("oops")`)
    await bridge.dispose()
  })

  it("undefined and null are no update, and a success", async () => {
    const bridge = LangGraphBridge.make()
    const outcomes: Array<Outcome> = []
    for (const value of [undefined, null]) {
      const research = protectNode(bridge, (): any => value, {
        breaker: "research",
        onOutcome: (o) => void outcomes.push(o)
      })
      const out = await oneNode(research)
        .invoke({ query: "q", research: "kept" })
      expect(out.research).toBe("kept")
      expect(out[FALLBACK_KEY]).toBeUndefined()
    }
    expect(outcomes.map((o) => o.outcome)).toEqual(["ok", "ok"])
    await bridge.dispose()
  })
})

describe("LangGraphBridge with a ledger layer that fails to build", () => {
  it("keeps no rejected runtime: nodes run on a no-op ledger and a warning is logged", async () => {
    const logged: Array<string> = []
    const spy = vi.spyOn(console, "log").mockImplementation((...args) => void logged.push(args.map(String).join(" ")))
    const broken = Layer.effect(Ledger.Ledger, Effect.fail(new Error("cannot open /nowhere/cascadebreaker.db")))
    const bridge = LangGraphBridge.make(broken)
    try {
      let healthy = true
      const research = protectNode(bridge, (s: S) => {
        if (!healthy) travelAgentTimesOut()
        return { research: `findings on ${s.query}` }
      }, { breaker: { name: "research" } })
      const plain = bridge.node((s: S) => Effect.succeed({ summary: `summary of ${s.research}` }))
      const graph = new StateGraph(State)
        .addNode("researcher", research)
        .addNode("summariser", plain)
        .addEdge(START, "researcher")
        .addEdge("researcher", "summariser")
        .addEdge("summariser", END)
        .compile()
      const ok = await graph.invoke({ query: "q" })
      expect(ok.summary).toBe("summary of findings on q")
      healthy = false
      const out = await graph.invoke({ query: "q" })
      expect(out.research).toBe("findings on q")
      expect(out[FALLBACK_KEY]).toBe("cache")
      expect(await ledgerOf(bridge, (l) => l.failures())).toEqual([])
      expect(logged.filter((l) => l.includes("layer failed to build"))).toHaveLength(1)
      expect(logged.join("\n")).toContain("cannot open /nowhere/cascadebreaker.db")
    } finally {
      spy.mockRestore()
      await bridge.dispose()
    }
  })
})

describe("the agentarmour custom event", () => {
  it("every protected call emits { node, outcome, fallback?, state } to streamEvents v2", async () => {
    const bridge = LangGraphBridge.make()
    let healthy = true
    const research = protectNode(bridge, (s: S) => {
      if (!healthy) travelAgentTimesOut()
      return { research: `findings on ${s.query}` }
    }, { breaker: { name: "research", failureThreshold: 1 }, fallback: { degrade: () => ({ research: "backup" }) } })
    const summarise = protectNode(bridge, (s: S) => ({ summary: `summary of ${s.research}` }), { breaker: "summarise" })
    const graph = new StateGraph(State)
      .addNode("researcher", research)
      .addNode("summariser", summarise)
      .addEdge(START, "researcher")
      .addEdge("researcher", "summariser")
      .addEdge("summariser", END)
      .compile()
    const eventsOf = async () => {
      const seen: Array<unknown> = []
      for await (const e of graph.streamEvents({ query: "q" }, { version: "v2" })) {
        if (e.event === "on_custom_event" && e.name === "agentarmour") seen.push(e.data)
      }
      return seen
    }
    expect(await eventsOf()).toEqual([
      { node: "researcher", outcome: "ok", state: "CLOSED" },
      { node: "summariser", outcome: "ok", state: "CLOSED" }
    ])
    healthy = false
    expect(await eventsOf()).toEqual([
      { node: "researcher", outcome: "fallback", fallback: "degrade", state: "OPEN" },
      { node: "summariser", outcome: "ok", state: "CLOSED" }
    ])
    await bridge.dispose()
  })
})

describe("the agentarmour.node span", () => {
  it("every protectNode call runs in a span whose attributes reach OpenTelemetry", async () => {
    const exporter = new InMemorySpanExporter()
    const bridge = LangGraphBridge.make(NodeSdk.layer(() => ({
      resource: { serviceName: "test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    })))
    let healthy = true
    const research = protectNode(bridge, (s: S) => {
      if (!healthy) travelAgentTimesOut()
      return { research: `findings on ${s.query}` }
    }, { breaker: { name: "research" } })
    const graph = oneNode(research)
    await graph.invoke({ query: "q" })
    healthy = false
    await graph.invoke({ query: "q" })
    const spans = exporter.getFinishedSpans().filter((span) => span.name === "agentarmour.node")
    expect(spans.map((span) => span.attributes)).toEqual([
      { "agentarmour.node": "researcher", "agentarmour.breaker": "research", "agentarmour.outcome": "ok" },
      {
        "agentarmour.node": "researcher",
        "agentarmour.breaker": "research",
        "agentarmour.outcome": "fallback",
        "agentarmour.fallback": "cache"
      }
    ])
    await bridge.dispose()
  })
})

describe("protectNode's call timeout", () => {
  it("an Effect node that overruns callTimeout is interrupted (its finalizer runs) and the fallback answers", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    let finalized = false
    const node = protectNode(
      bridge,
      (_s: S) => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (finalized = true)))),
      {
        breaker: { name: "effect-node", callTimeout: "50 millis" },
        fallback: { degrade: () => ({ research: "fallback" }) }
      }
    )
    const out = await oneNode(node).invoke({ query: "q" })
    expect(out.research).toBe("fallback")
    expect(out[FALLBACK_KEY]).toBe("degrade")
    expect(out[TRACEBACK_KEY]).toContain("callTimeout of 50 ms")
    expect(finalized).toBe(true)
    const failures = await ledgerOf(bridge, (l) => l.failures())
    expect(failures.map((f) => [f.breakerName, f.category])).toEqual([["effect-node", "timeout"]])
    await bridge.dispose()
  })

  it("a plain async node that overruns callTimeout gets the CallTimeoutError as its signal's reason", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    let reason: unknown
    const node = protectNode(bridge, (_s: S, config) =>
      new Promise<Partial<S>>((_resolve, reject) => {
        config.signal?.addEventListener("abort", () => {
          reason = config.signal?.reason
          reject(reason)
        })
      }), {
      breaker: { name: "slow-promise", callTimeout: "50 millis" },
      fallback: { degrade: () => ({ research: "fallback" }) }
    })
    const out = await oneNode(node).invoke({ query: "q" })
    expect(out.research).toBe("fallback")
    expect(reason).toMatchObject({ _tag: "CallTimeoutError", breaker: "slow-promise", timeoutMillis: 50 })
    await bridge.dispose()
  })

  it("a plain async node that answers in time is not failed by its deadline later", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    const node = protectNode(
      bridge,
      async (s: S) => ({ research: `found ${s.query}` }),
      { breaker: { name: "quick-promise", callTimeout: "30 millis" } }
    )
    const graph = oneNode(node)
    for (let i = 0; i < 3; i++) expect((await graph.invoke({ query: "q" })).research).toBe("found q")
    // past every deadline: nothing was expired, nothing recorded as a failure
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await ledgerOf(bridge, (l) => l.failures())).toEqual([])
    await bridge.dispose()
  })
})

describe("a plain node's config.signal", () => {
  it("is aborted when the graph run is aborted (the signal is made when the node first reads it)", async () => {
    const bridge = LangGraphBridge.make()
    let started: () => void = () => {}
    const running = new Promise<void>((resolve) => (started = resolve))
    let aborted = false
    const slow = protectNode(bridge, async (_s: S, config): Promise<{ research: string }> => {
      const signal = config.signal!
      started()
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()))
      aborted = true
      return { research: "stopped" }
    }, { breaker: { name: "slow" } })
    const graph = oneNode(slow)
    const controller = new AbortController()
    const run = graph.invoke({ query: "q" }, { signal: controller.signal }).catch((e) => e)
    await running
    controller.abort(new Error("user cancelled"))
    await run
    for (let i = 0; i < 100 && !aborted; i++) await new Promise((r) => setTimeout(r, 10))
    expect(aborted).toBe(true)
    await bridge.dispose()
  })
})
