/**
 * The demo behind `npm start`: a research -> extract -> analyse -> summarise
 * LangGraph pipeline of fake LLM agents with injected faults, protected by
 * agentarmour, writing its audit ledger to `cascadebreaker.db`.
 *
 *   - research  is flaky: an "outage" makes it fail; its breaker opens, the
 *               cache answers, and it recovers once the outage is over
 *   - extract   is sometimes slow: the call timeout interrupts it and a
 *               cheaper regex extractor answers (degrade)
 *   - analyse   sometimes "succeeds" with garbage: the guard's Schema
 *               catches it and quarantines the keys it wrote
 *   - summarise escalates to a (fake) on-call human when it cannot answer
 *
 * Faults come on a fixed schedule (by run number) and latencies from a
 * seeded PRNG, so every run of the demo tells the same story.
 *
 * Run: npx tsx examples/langgraph_pipeline.ts [runs]   (or: npm start)
 */
import { Annotation, END, START, StateGraph } from "@langchain/langgraph"
import { Ledger } from "agentarmour"
import { CascadeAnnotation, LangGraphBridge, type Outcome, protectNode } from "agentarmour/langgraph"
import { SqliteLedger } from "agentarmour/sqlite"
import { Effect, Schema } from "effect"

/** a small seeded PRNG, so every run of the demo tells the same story */
const mulberry32 = (seed: number) => () => {
  seed |= 0
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener("abort", () => {
      clearTimeout(timer)
      reject(new Error("aborted"))
    })
  })

const State = Annotation.Root({
  ...CascadeAnnotation,
  topic: Annotation<string>(),
  research: Annotation<string | undefined>(),
  entities: Annotation<ReadonlyArray<string> | undefined>(),
  analysis: Annotation<string | undefined>(),
  summary: Annotation<string | undefined>()
})
type S = typeof State.State

/** quotes a word for a POSIX shell when it needs it */
const shellQuote = (word: string) => /^[\w./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`

const TOPICS = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"]

export interface DemoOptions {
  readonly filename?: string | undefined
  readonly runs?: number | undefined
  readonly seed?: number | undefined
  readonly log?: ((line: string) => void) | undefined
  /** aborting it stops the demo after the current run; the ledger is still flushed */
  readonly signal?: AbortSignal | undefined
}

export interface DemoResult {
  readonly outcomes: ReadonlyArray<Outcome>
  readonly summary: ReadonlyArray<Ledger.BreakerSummary>
  readonly transitions: ReadonlyArray<Ledger.TransitionRecord>
}

export const runDemo = async (options: DemoOptions = {}): Promise<DemoResult> => {
  const runs = options.runs ?? 50
  const filename = options.filename ?? "cascadebreaker.db"
  const log = options.log ?? ((line: string) => console.log(line))
  const random = mulberry32(options.seed ?? 42)
  const bridge = LangGraphBridge.make(SqliteLedger.layer({ filename }))
  const outcomes: Array<Outcome> = []
  let run = 0
  const isOutage = () => run >= 8 && run < 22

  // --- the fake agents ---------------------------------------------------
  async function researchAgent(state: S) {
    await sleep(5 + random() * 10)
    if (isOutage() && random() < 0.85) throw new Error("LLM provider returned 503 Service Unavailable")
    return { research: `${state.topic} wrote about computing machines; later work cites ${state.topic} often.` }
  }
  async function extractAgent(state: S, config: { signal?: AbortSignal }) {
    // now and then the model hangs: the breaker's callTimeout interrupts it
    await sleep(run % 7 === 3 ? 2_000 : 5 + random() * 10, config.signal)
    return { entities: (state.research ?? "").match(/[A-Z][a-z]+ [A-Z][a-z]+/g) ?? [] }
  }
  async function cheapExtractor(state: S) {
    return { entities: (state.research ?? "").split(" ").filter((w) => /^[A-Z]/.test(w)).slice(0, 2) }
  }
  async function analyseAgent(state: S) {
    await sleep(5 + random() * 10)
    // now and then the model "succeeds" with garbage the next agent would trust
    if (run % 9 === 2) return { analysis: "" }
    if (state.entities === undefined) return { analysis: "entities unavailable: upstream agent degraded" }
    return { analysis: `${state.entities.length} people found: ${state.entities.join(", ")}` }
  }
  async function summariseAgent(state: S) {
    await sleep(5 + random() * 5)
    if (state.analysis === undefined || run % 13 === 6) throw new Error("summariser refused: analysis missing")
    return { summary: `Summary (${state.topic}): ${state.analysis}` }
  }

  // --- protection ----------------------------------------------------------
  const onOutcome = (o: Outcome) => void outcomes.push(o)
  const research = protectNode(bridge, researchAgent, {
    breaker: { name: "research", failureThreshold: 3, recoveryTimeout: "400 millis", callTimeout: "1 second" },
    fallback: { cache: { maxAge: "10 minutes", key: (s) => s.topic } },
    onOutcome
  })
  const extract = protectNode(bridge, extractAgent, {
    breaker: { name: "extract", failureThreshold: 3, callTimeout: "150 millis", recoveryTimeout: "300 millis" },
    fallback: { degrade: cheapExtractor, confidence: 0.6 },
    guard: { quarantineOnFailure: ["entities"], readsFrom: ["research"] },
    onOutcome
  })
  const analyse = protectNode(bridge, analyseAgent, {
    breaker: { name: "analyse", failureThreshold: 5 },
    fallback: "cache",
    guard: {
      quarantineOnFailure: ["analysis"],
      readsFrom: ["entities"],
      validate: Schema.Struct({ analysis: Schema.NonEmptyString })
    },
    onOutcome
  })
  const summarise = protectNode(bridge, summariseAgent, {
    breaker: { name: "summarise", failureThreshold: 2, recoveryTimeout: "300 millis" },
    fallback: { escalate: async (name) => ({ summary: `[paged on-call: ${name} needs a human]` }) },
    guard: { readsFrom: ["analysis"] },
    onOutcome
  })

  const graph = new StateGraph(State)
    .addNode("researcher", research)
    .addNode("extractor", extract)
    .addNode("analyst", analyse)
    .addNode("summariser", summarise)
    .addEdge(START, "researcher")
    .addEdge("researcher", "extractor")
    .addEdge("extractor", "analyst")
    .addEdge("analyst", "summariser")
    .addEdge("summariser", END)
    .compile()

  const ledger = <A>(f: (l: Ledger.Ledger) => Effect.Effect<A, unknown>) =>
    bridge.runtime.runPromise(Effect.flatMap(Ledger.Ledger, f))
  const icon = (o: Outcome) =>
    o.outcome === "ok"
      ? "ok"
      : o.outcome === "fallback"
      ? `${
        o.error?.includes("CallTimeoutError") || o.error?.includes("callTimeout")
          ? "timeout"
          : o.error?.startsWith("CircuitOpenError")
          ? "open"
          : "failed"
      } -> ${o.fallback}`
      : o.outcome === "contaminated"
      ? "garbage -> quarantined"
      : "failed, nothing answered"

  log(`agentarmour demo: ${runs} runs of research -> extract -> analyse -> summarise, ledger in ${filename}\n`)
  let seenTransitions = (await ledger((l) => l.transitions({ limit: 1 })))[0]?.createdAt.getTime() ?? 0
  try {
    for (run = 0; run < runs; run++) {
      if (options.signal?.aborted === true) {
        log(`\ninterrupted after ${run} runs; the ledger in ${filename} keeps what they recorded`)
        return { outcomes, summary: [], transitions: [] }
      }
      const before = outcomes.length
      const topic = TOPICS[run % TOPICS.length]!
      if (run === 8) log("   ~~ the research model's provider starts failing ~~")
      if (run === 22) log("   ~~ the provider recovers ~~")
      const final = await graph.invoke({ topic }, { configurable: { thread_id: `run-${run}` } })
      const line = outcomes.slice(before).map((o) => `${o.node} ${icon(o)}`).join(" | ")
      log(`run ${String(run + 1).padStart(2)}  ${line}`)
      if (final.summary?.startsWith("[paged")) log(`        summary: ${final.summary}`)
      const fresh = (await ledger((l) => l.transitions({ limit: 20 })))
        .filter((t) => t.createdAt.getTime() > seenTransitions)
        .reverse()
      for (const t of fresh) log(`        breaker ${t.breakerName}: ${t.fromState} -> ${t.toState} (${t.reason})`)
      if (fresh.length > 0) seenTransitions = fresh[fresh.length - 1]!.createdAt.getTime()
      await sleep(isOutage() ? 60 : 20)
    }
    const summary = await ledger((l) => l.summary)
    const transitions = await ledger((l) => l.transitions({ limit: 1000 }))
    const { table } = await import("../src/cli/Cli.js")
    log("\nledger summary:\n")
    log(table(
      ["BREAKER", "STATE", "FAILURES", "TRANSITIONS", "FALLBACKS"],
      summary.map((
        s
      ) => [s.breakerName, s.state, String(s.failuresTotal), String(s.transitions), String(s.fallbacksServed)])
    ))
    // the hints name the ledger the demo wrote, so they can be pasted as they are
    const dbFlag = filename === "cascadebreaker.db" ? "" : ` --db ${shellQuote(filename)}`
    log(`\nnext: npx agentarmour ledger summary${dbFlag}      (the ledger is ${filename})`)
    log(`      npx agentarmour ledger failures --breaker research${dbFlag}`)
    log(`      npx agentarmour dashboard${dbFlag}            (then open http://127.0.0.1:8765)`)
    return { outcomes, summary, transitions }
  } finally {
    await bridge.dispose()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = process.argv[2] === undefined ? undefined : Number(process.argv[2])
  runDemo({ runs }).then(
    () => process.exit(0),
    (e) => {
      console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`)
      process.exit(1)
    }
  )
}
