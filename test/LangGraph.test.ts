import {
  Annotation,
  Command,
  END,
  interrupt,
  MemorySaver,
  ParentCommand,
  START,
  StateGraph
} from "@langchain/langgraph"
import { BreakerRegistry, CascadeGuard, Ledger } from "agentarmour"
import {
  CascadeAnnotation,
  FALLBACK_KEY,
  LangGraphBridge,
  protectNode,
  QUARANTINED_KEY,
  TRACEBACK_KEY
} from "agentarmour/langgraph"
import { Context, Effect, Layer, Schema } from "effect"
import { describe, expect, it } from "vitest"

const State = Annotation.Root({
  ...CascadeAnnotation,
  query: Annotation<string>(),
  research: Annotation<string | undefined>(),
  summary: Annotation<string | undefined>()
})
type S = typeof State.State

class Llm extends Context.Tag("Llm")<Llm, { readonly complete: (prompt: string) => Effect.Effect<string> }>() {}
const LlmLive = Layer.succeed(Llm, { complete: (p: string) => Effect.succeed(`answer to ${p}`) })

const twoNodes = (research: any, summarise: any = (s: S) => ({ summary: `summary of ${s.research ?? "nothing"}` })) =>
  new StateGraph(State)
    .addNode("researcher", research)
    .addNode("summariser", summarise)
    .addEdge(START, "researcher")
    .addEdge("researcher", "summariser")
    .addEdge("summariser", END)

function researchAgentExplodes(): never {
  throw new Error("LLM provider returned 500")
}

describe("LangGraphBridge", () => {
  it("runs an Effect node inside a real StateGraph with services from the bridge's layer", async () => {
    const bridge = LangGraphBridge.make(LlmLive)
    const research = bridge.node((state: S) =>
      Effect.map(Llm, (llm) => llm.complete(state.query)).pipe(Effect.flatten, Effect.map((research) => ({ research })))
    )
    const graph = twoNodes(research).compile()
    const out = await graph.invoke({ query: "circuit breakers" })
    expect(out.research).toBe("answer to circuit breakers")
    expect(out.summary).toBe("summary of answer to circuit breakers")
    await bridge.dispose()
  })

  it("rethrows a failure as the original error, not a FiberFailure wrapper", async () => {
    const bridge = LangGraphBridge.make()
    class RateLimited extends Error {}
    const node = bridge.node(() => Effect.fail(new RateLimited("slow down")))
    const graph = twoNodes(node).compile()
    const error = await graph.invoke({ query: "q" }).catch((e) => e)
    expect(error).toBeInstanceOf(RateLimited)
    expect(error.message).toBe("slow down")
    await bridge.dispose()
  })

  it("aborting the graph run interrupts the node's fiber", async () => {
    const bridge = LangGraphBridge.make()
    let interrupted = false
    let started: () => void = () => {}
    const running = new Promise<void>((resolve) => (started = resolve))
    const node = bridge.node(() =>
      Effect.sync(() => started()).pipe(
        Effect.zipRight(Effect.never),
        Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))
      )
    )
    const graph = twoNodes(node).compile()
    const controller = new AbortController()
    const run = graph.invoke({ query: "q" }, { signal: controller.signal }).catch((e) => e)
    await running
    controller.abort(new Error("user cancelled"))
    await run
    for (let i = 0; i < 50 && !interrupted; i++) await new Promise((r) => setTimeout(r, 10))
    expect(interrupted).toBe(true)
    await bridge.dispose()
  })
})

describe("protectNode in a StateGraph", () => {
  it("a failure never escapes: the cache answers and the markers survive to the final state", async () => {
    const bridge = LangGraphBridge.make()
    let healthy = true
    const research = protectNode(bridge, (s: S) => {
      if (!healthy) researchAgentExplodes()
      return { research: `findings on ${s.query}` }
    }, { breaker: { name: "research", failureThreshold: 2 } })
    const graph = twoNodes(research).compile()
    await graph.invoke({ query: "q" })
    healthy = false
    const out = await graph.invoke({ query: "q" })
    expect(out.research).toBe("findings on q")
    expect(out[FALLBACK_KEY]).toBe("cache")
    expect(out[TRACEBACK_KEY]).toContain("LLM provider returned 500")
    expect(out[TRACEBACK_KEY]).toContain("researchAgentExplodes")
    await bridge.dispose()
  })

  it("with nothing to answer, the node still does not fail and says so", async () => {
    const bridge = LangGraphBridge.make()
    const research = protectNode(bridge, async () => researchAgentExplodes(), { breaker: { name: "research" } })
    const out = await twoNodes(research).compile().invoke({ query: "q" })
    expect(out[FALLBACK_KEY]).toBe("none")
    expect(out.summary).toBe("summary of nothing")
    await bridge.dispose()
  })

  it("degrade answers with the backup agent (plain or Effect)", async () => {
    const bridge = LangGraphBridge.make()
    const research = protectNode(bridge, async () => researchAgentExplodes(), {
      breaker: { name: "research" },
      fallback: { degrade: (s: S) => Effect.succeed({ research: `cheap findings on ${s.query}` }), confidence: 0.6 }
    })
    const out = await twoNodes(research).compile().invoke({ query: "q" })
    expect(out.research).toBe("cheap findings on q")
    expect(out[FALLBACK_KEY]).toBe("degrade")
    await bridge.dispose()
  })

  it("escalate in notify mode calls the notifier and the graph goes on", async () => {
    const bridge = LangGraphBridge.make()
    const paged: Array<string> = []
    const research = protectNode(bridge, async () => researchAgentExplodes(), {
      breaker: { name: "research" },
      fallback: { escalate: async (name: string) => void paged.push(name) }
    })
    const out = await twoNodes(research).compile().invoke({ query: "q" })
    expect(paged).toEqual(["research"])
    expect(out[FALLBACK_KEY]).toBe("escalate")
    expect(out.summary).toBe("summary of nothing")
    await bridge.dispose()
  })

  it("decompose splits the task and merges the pieces", async () => {
    const bridge = LangGraphBridge.make()
    const research = protectNode(bridge, async () => researchAgentExplodes(), {
      breaker: { name: "research" },
      fallback: {
        decompose: {
          split: (s: S) => s.query.split(" "),
          run: async (word: string) => word.toUpperCase(),
          merge: (parts) => ({ research: parts.join("+") })
        }
      }
    })
    const out = await twoNodes(research).compile().invoke({ query: "a b c" })
    expect(out.research).toBe("A+B+C")
    expect(out[FALLBACK_KEY]).toBe("decompose")
    await bridge.dispose()
  })

  it("interrupt() inside a protected node pauses and resumes the graph and counts no failure", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    const research = protectNode(bridge, (s: S) => {
      const approved = interrupt({ question: `research ${s.query}?` }) as string
      return { research: `approved: ${approved}` }
    }, { breaker: { name: "research", failureThreshold: 1 } })
    const graph = twoNodes(research).compile({ checkpointer: new MemorySaver() })
    const config = { configurable: { thread_id: "t1" } }
    const paused = await graph.invoke({ query: "q" }, config)
    expect(paused.research).toBeUndefined()
    expect((await graph.getState(config)).next).toEqual(["researcher"])
    const done = await graph.invoke(new Command({ resume: "yes" }), config)
    expect(done.research).toBe("approved: yes")
    const failures = await bridge.runtime.runPromise(Effect.flatMap(Ledger.Ledger, (l) => l.failures()))
    expect(failures).toEqual([])
    const snapshot = await bridge.runtime.runPromise(Effect.flatMap(BreakerRegistry.BreakerRegistry, (r) => r.snapshot))
    expect(snapshot).toEqual({})
    await bridge.dispose()
  })

  it("escalate in interrupt mode pauses the graph for a human and resumes with the answer", async () => {
    const bridge = LangGraphBridge.make()
    const research = protectNode(bridge, async () => researchAgentExplodes(), {
      breaker: { name: "research" },
      fallback: { escalate: async () => undefined, mode: "interrupt" }
    })
    const graph = twoNodes(research).compile({ checkpointer: new MemorySaver() })
    const config = { configurable: { thread_id: "t-esc" } }
    const paused = await graph.invoke({ query: "q" }, config)
    const pending = (await graph.getState(config)).tasks.flatMap((t) => t.interrupts)
    expect(pending[0]?.value).toMatchObject({ breaker: "research", error: "Error: LLM provider returned 500" })
    expect(paused.summary).toBeUndefined()
    const done = await graph.invoke(new Command({ resume: { research: "written by a human" } }), config)
    expect(done.research).toBe("written by a human")
    expect(done[FALLBACK_KEY]).toBe("escalate")
    expect(done.summary).toBe("summary of written by a human")
    await bridge.dispose()
  })

  it("the guard is scoped to the thread: two concurrent invokes with different thread_ids", async () => {
    const bridge = LangGraphBridge.make(CascadeGuard.layer())
    const GuardState = Annotation.Root({
      ...CascadeAnnotation,
      thread: Annotation<string>(),
      entities: Annotation<ReadonlyArray<string> | undefined>(),
      analysis: Annotation<string | undefined>()
    })
    type G = typeof GuardState.State
    const extract = protectNode(bridge, async (s: G) => {
      await new Promise((r) => setTimeout(r, 20))
      if (s.thread === "bad") throw new Error("extractor crashed")
      return { entities: ["Ada"] }
    }, { breaker: { name: "extract", failureThreshold: 10 }, guard: { quarantineOnFailure: ["entities"] } })
    const analyse = protectNode(
      bridge,
      async (s: G) => ({ analysis: s.entities === undefined ? "no entities" : `${s.entities.length} entities` }),
      {
        breaker: { name: "analyse" },
        guard: { readsFrom: ["entities"] }
      }
    )
    const graph = new StateGraph(GuardState)
      .addNode("extract", extract)
      .addNode("analyse", analyse)
      .addEdge(START, "extract")
      .addEdge("extract", "analyse")
      .addEdge("analyse", END)
      .compile()
    const [bad, good] = await Promise.all([
      graph.invoke({ thread: "bad", entities: ["STALE"] }, { configurable: { thread_id: "bad" } }),
      graph.invoke({ thread: "good", entities: ["STALE"] }, { configurable: { thread_id: "good" } })
    ])
    expect(bad.analysis).toBe("no entities")
    expect(bad[QUARANTINED_KEY]).toEqual(["entities"])
    expect(good.analysis).toBe("1 entities")
    expect(good[QUARANTINED_KEY]).toBeUndefined()
    await bridge.dispose()
  })

  it("validate catches contaminated output: the bad keys never reach the next node", async () => {
    const bridge = LangGraphBridge.make()
    const research = protectNode(bridge, async () => ({ research: "" }), {
      breaker: { name: "research" },
      guard: { quarantineOnFailure: ["research"], validate: Schema.Struct({ research: Schema.NonEmptyString }) }
    })
    const out = await twoNodes(research).compile().invoke({ query: "q", research: "previous" })
    expect(out.research).toBe("previous")
    await bridge.dispose()
  })

  it("a node returning a Command navigates as LangGraph intends, untouched", async () => {
    const bridge = LangGraphBridge.make()
    const router = protectNode(
      bridge,
      (s: S) => new Command({ goto: "summariser", update: { research: `routed ${s.query}` } }),
      {
        breaker: { name: "router" }
      }
    )
    const graph = new StateGraph(State)
      .addNode("router", router, { ends: ["summariser", "skipped"] })
      .addNode("skipped", () => ({ summary: "wrong branch" }))
      .addNode("summariser", (s: S) => ({ summary: `summary of ${s.research}` }))
      .addEdge(START, "router")
      .addEdge("summariser", END)
      .addEdge("skipped", END)
      .compile()
    const out = await graph.invoke({ query: "q" })
    expect(out.summary).toBe("summary of routed q")
    await bridge.dispose()
  })

  it("a ParentCommand thrown from a subgraph inside a protected node reaches the parent graph, uncounted", async () => {
    const bridge = LangGraphBridge.make(Ledger.layerMemory)
    const sub = new StateGraph(State)
      .addNode(
        "inner",
        () => new Command({ graph: Command.PARENT, goto: "summariser", update: { research: "from the subgraph" } })
      )
      .addEdge(START, "inner")
      .compile()
    let sawParentCommand = false
    const delegate = protectNode(bridge, async (s: S, config) => {
      try {
        return await sub.invoke(s, config)
      } catch (e) {
        sawParentCommand = e instanceof ParentCommand
        throw e
      }
    }, { breaker: { name: "delegate", failureThreshold: 1 } })
    const graph = new StateGraph(State)
      .addNode("delegate", delegate, { ends: ["summariser"] })
      .addNode("summariser", (s: S) => ({ summary: `summary of ${s.research}` }))
      .addEdge(START, "delegate")
      .addEdge("summariser", END)
      .compile()
    const out = await graph.invoke({ query: "q" })
    expect(sawParentCommand).toBe(true)
    expect(out.summary).toBe("summary of from the subgraph")
    const failures = await bridge.runtime.runPromise(Effect.flatMap(Ledger.Ledger, (l) => l.failures()))
    expect(failures).toEqual([])
    await bridge.dispose()
  })

  it("a plain async node that overruns its callTimeout gets its signal aborted, so it really stops", async () => {
    const bridge = LangGraphBridge.make()
    let aborted = false
    const slow = protectNode(bridge, async (_s: S, config) => {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, 5_000)
        config.signal?.addEventListener("abort", () => {
          aborted = true
          clearTimeout(timer)
          reject(config.signal?.reason)
        })
      })
      return { research: "too late" }
    }, { breaker: { name: "slow", callTimeout: "50 millis" }, fallback: { degrade: () => ({ research: "fallback" }) } })
    const out = await twoNodes(slow).compile().invoke({ query: "q" })
    expect(out.research).toBe("fallback")
    expect(out[TRACEBACK_KEY]).toContain("callTimeout of 50 ms")
    // the node's own 5 s timer was cleared by the abort: it stopped, rather than ran on
    expect(aborted).toBe(true)
    await bridge.dispose()
  })
})
