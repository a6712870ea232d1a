/**
 * The demo behind `npm start`: a research -> extract -> analyse -> summarise
 * -> fact-check LangGraph pipeline of LLM agents on scripted models (`AgentMock.model`,
 * with the token usage a provider reports) and injected faults, protected by
 * agentarmour, spending against per-node budgets with a price list, and
 * writing its audit ledger (failures, transitions, spend) to `cascadebreaker.db`.
 *
 *   - research  is flaky: an "outage" makes its model fail with 500s; its
 *               breaker opens, the cache answers, and it recovers once the
 *               outage is over
 *   - extract   is sometimes slow: the call timeout interrupts its model and
 *               a cheaper regex extractor answers (degrade)
 *   - analyse   sometimes "succeeds" with garbage: the guard's Schema
 *               catches it and quarantines the keys it wrote
 *   - summarise escalates to a (fake) on-call human when it cannot answer
 *   - factcheck is a small ReAct agent with one tool, `lookup`, run by
 *               `guardedToolNode` (ToolGuard) and routed with `routeToolCalls`;
 *               now and then its model calls a tool that does not exist and
 *               sends malformed JSON: both are refused with a ToolMessage the
 *               model reads, it corrects itself and finishes. Every decision
 *               is in the ledger (`cb_tool_calls`: `agentarmour ledger tools`)
 *
 * Faults come on a fixed schedule (by run number) and latencies from a
 * seeded PRNG, so every run of the demo tells the same story.
 *
 * Run: npx tsx examples/langgraph_pipeline.ts [runs]   (or: npm start)
 */
import { AIMessage, type BaseMessage, HumanMessage, isAIMessage, type ToolMessage } from "@langchain/core/messages"
import { tool } from "@langchain/core/tools"
import { Annotation, END, START, StateGraph } from "@langchain/langgraph"
import { Ledger } from "agentarmour"
import {
  CascadeAnnotation,
  guardedToolNode,
  LangGraphBridge,
  type Outcome,
  protectNode,
  routeToolCalls
} from "agentarmour/langgraph"
import { SqliteLedger } from "agentarmour/sqlite"
import { AgentMock } from "agentarmour/testing"
import { Effect, Schema } from "effect"

/** a small seeded PRNG, so every run of the demo tells the same story */
const mulberry32 = (seed: number) => () => {
  seed |= 0
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const State = Annotation.Root({
  ...CascadeAnnotation,
  topic: Annotation<string>(),
  messages: Annotation<Array<BaseMessage>>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  research: Annotation<string | undefined>(),
  entities: Annotation<ReadonlyArray<string> | undefined>(),
  analysis: Annotation<string | undefined>(),
  summary: Annotation<string | undefined>(),
  factcheck: Annotation<string | undefined>()
})
type S = typeof State.State

/** quotes a word for a POSIX shell when it needs it */
const shellQuote = (word: string) => /^[\w./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`

const TOPICS = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"]

/** dollars per million tokens: yours to keep current (agentarmour ships no price list) */
const pricing = {
  "gpt-4o": { inputPer1M: 2.5, outputPer1M: 10 },
  "gpt-4o-mini": { inputPer1M: 0.15, outputPer1M: 0.6 }
}

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
  /** what each node spent, from the ledger (the dashboard's spend panel) */
  readonly spend: ReadonlyArray<Ledger.UsageSummary>
  /** ToolGuard's decisions on the fact-checker's tool calls, newest first (`agentarmour ledger tools`, the dashboard's tool calls panel) */
  readonly toolCalls: ReadonlyArray<Ledger.ToolCallRecord>
}

/** the fact-checker's one tool (the model must call it by this name, with a JSON object) */
const lookup = tool(
  async ({ claim }: { claim: string }) => `confirmed by 2 sources: ${claim}`,
  {
    name: "lookup",
    description: "look a claim up in the reference library",
    schema: { type: "object", properties: { claim: { type: "string" } }, required: ["claim"] }
  }
)

/** the runs whose fact-checker hallucinates (a tool that does not exist, then malformed JSON) */
const hallucinates = (run: number) => run % 10 === 5

/**
 * The scripted models of one run: what each agent's model answers (with the
 * tokens a provider would report), how long it takes, and the run's faults.
 */
const modelsOf = (run: number, random: () => number) => {
  const topic = TOPICS[run % TOPICS.length]!
  const latency = (base: number) => Math.round(base + random() * 10) // millis
  const claim = `${topic} was a pioneer of computing`
  const outage = run >= 8 && run < 22 && random() < 0.85
  return {
    research: AgentMock.model([
      outage
        ? { fail: "server_error", latency: latency(5) }
        : {
          text: `${topic} wrote about computing machines; later work cites ${topic} often.`,
          usage: { input: 850, output: 120 },
          latency: latency(5)
        }
    ], { name: "gpt-4o" }),
    // now and then the model hangs: the breaker's callTimeout interrupts it
    extract: AgentMock.model([{
      text: JSON.stringify([topic]),
      usage: { input: 300, output: 20 },
      latency: run % 7 === 3 ? "2 seconds" : latency(5)
    }], { name: "gpt-4o-mini" }),
    // now and then the model "succeeds" with garbage the next agent would trust
    analyse: AgentMock.model([{
      text: run % 9 === 2 ? "" : `1 person found: ${topic}`,
      usage: { input: 400, output: 40 },
      latency: latency(5)
    }], { name: "gpt-4o-mini" }),
    summarise: AgentMock.model([
      run % 13 === 6
        ? { fail: new Error("summariser refused: analysis missing"), latency: latency(5) }
        : {
          text: `Summary (${topic}): a pioneer of computing.`,
          usage: { input: 600, output: 80 },
          latency: latency(5)
        }
    ], { name: "gpt-4o" }),
    // a ReAct loop: look the claim up, then answer; now and then it first calls a tool that does
    // not exist and sends JSON that does not parse, and corrects itself after ToolGuard's refusals
    factcheck: AgentMock.model([
      ...(hallucinates(run)
        ? [
          { ...AgentMock.hallucinate.unknownTool("lookup_fact", { claim }), usage: { input: 250, output: 20 } },
          {
            ...AgentMock.hallucinate.malformedArgs("lookup", `{"claim": "${claim}", "source": <wikipedia>}`),
            usage: { input: 320, output: 24 }
          }
        ]
        : []),
      { toolCalls: [{ name: "lookup", args: { claim } }], usage: { input: 300, output: 20 }, latency: latency(2) },
      { text: `verified: ${claim}`, usage: { input: 380, output: 12 } }
    ], { name: "gpt-4o-mini" })
  }
}

/** "factchecker ok | factchecker ok" -> "factchecker ok x2" (a ReAct agent runs once per tool round) */
const collapse = (parts: ReadonlyArray<string>): string => {
  const out: Array<[string, number]> = []
  for (const part of parts) {
    const last = out[out.length - 1]
    if (last !== undefined && last[0] === part) last[1]++
    else out.push([part, 1])
  }
  return out.map(([part, n]) => n === 1 ? part : `${part} x${n}`).join(" | ")
}

/** rows of (key..., count), in the order the keys first appear */
const countBy = <A>(items: ReadonlyArray<A>, key: (a: A) => ReadonlyArray<string>): Array<Array<string>> => {
  const counts = new Map<string, [ReadonlyArray<string>, number]>()
  for (const item of items) {
    const k = key(item)
    const entry = counts.get(k.join("\u0000"))
    if (entry === undefined) counts.set(k.join("\u0000"), [k, 1])
    else entry[1]++
  }
  return Array.from(counts.values(), ([k, n]) => [...k, String(n)])
}

const textOf = (message: { readonly content: unknown }) => typeof message.content === "string" ? message.content : ""

export const runDemo = async (options: DemoOptions = {}): Promise<DemoResult> => {
  const runs = options.runs ?? 50
  const filename = options.filename ?? "cascadebreaker.db"
  const log = options.log ?? ((line: string) => console.log(line))
  const random = mulberry32(options.seed ?? 42)
  const bridge = LangGraphBridge.make(SqliteLedger.layer({ filename }))
  const outcomes: Array<Outcome> = []
  let run = 0
  let models = modelsOf(0, random)
  const isOutage = () => run >= 8 && run < 22

  // --- the agents: each asks its scripted model ----------------------------
  async function researchAgent(state: S) {
    const reply = await models.research.invoke([new HumanMessage(`Research ${state.topic}`)])
    return { research: textOf(reply), messages: [reply] }
  }
  async function extractAgent(state: S, config: { signal?: AbortSignal }) {
    const reply = await models.extract.invoke(
      [new HumanMessage(`List the people in: ${state.research ?? ""}`)],
      config.signal === undefined ? {} : { signal: config.signal }
    )
    return { entities: JSON.parse(textOf(reply)) as Array<string>, messages: [reply] }
  }
  async function cheapExtractor(state: S) {
    return { entities: (state.research ?? "").split(" ").filter((w) => /^[A-Z]/.test(w)).slice(0, 2) }
  }
  async function analyseAgent(state: S) {
    if (state.entities === undefined) return { analysis: "entities unavailable: upstream agent degraded" }
    const reply = await models.analyse.invoke([new HumanMessage(`Analyse: ${state.entities.join(", ")}`)])
    return { analysis: textOf(reply), messages: [reply] }
  }
  async function summariseAgent(state: S) {
    if (state.analysis === undefined) throw new Error("summariser refused: analysis missing")
    const reply = await models.summarise.invoke([new HumanMessage(`Summarise: ${state.analysis}`)])
    return { summary: textOf(reply), messages: [reply] }
  }
  /** the fact-checker sees the summary and its own tool calls and their answers so far */
  async function factcheckAgent(state: S) {
    const own = state.messages.filter((m) =>
      m.getType() === "tool" ||
      (isAIMessage(m) && (m.tool_calls?.length ?? 0) + (m.invalid_tool_calls?.length ?? 0) > 0)
    )
    const reply = await models.factcheck.invoke([new HumanMessage(`Fact-check: ${state.summary ?? ""}`), ...own])
    const done = (reply.tool_calls?.length ?? 0) + (reply.invalid_tool_calls?.length ?? 0) === 0
    return { messages: [reply], ...(done ? { factcheck: textOf(reply) } : {}) }
  }

  // --- protection ----------------------------------------------------------
  const onOutcome = (o: Outcome) => void outcomes.push(o)
  // each agent's spend is charged from its models' usage_metadata, priced per model, per run (thread_id)
  const spending = (name: string) => ({ budget: { name, perRun: { costUsd: 0.05 } }, pricing })
  const research = protectNode(bridge, researchAgent, {
    breaker: { name: "research", failureThreshold: 3, recoveryTimeout: "400 millis", callTimeout: "1 second" },
    fallback: { cache: { maxAge: "10 minutes", key: (s) => s.topic } },
    ...spending("research"),
    onOutcome
  })
  const extract = protectNode(bridge, extractAgent, {
    breaker: { name: "extract", failureThreshold: 3, callTimeout: "150 millis", recoveryTimeout: "300 millis" },
    fallback: { degrade: cheapExtractor, confidence: 0.6 },
    guard: { quarantineOnFailure: ["entities"], readsFrom: ["research"] },
    ...spending("extract"),
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
    ...spending("analyse"),
    onOutcome
  })
  const summarise = protectNode(bridge, summariseAgent, {
    breaker: { name: "summarise", failureThreshold: 2, recoveryTimeout: "300 millis" },
    fallback: { escalate: async (name) => ({ summary: `[paged on-call: ${name} needs a human]` }) },
    guard: { readsFrom: ["analysis"] },
    ...spending("summarise"),
    onOutcome
  })
  const factcheck = protectNode(bridge, factcheckAgent, {
    breaker: { name: "factcheck", failureThreshold: 3, recoveryTimeout: "300 millis" },
    // no tool calls in the fallback's message: routeToolCalls ends the run
    fallback: { degrade: async () => ({ messages: [new AIMessage("fact-check skipped")], factcheck: "skipped" }) },
    ...spending("factcheck"),
    onOutcome
  })
  // ToolGuard: unknown tools, malformed JSON (invalid_tool_calls), repeats and caps are answered with a ToolMessage
  const tools = guardedToolNode(bridge, [lookup], { maxCallsPerRun: 5 })

  const graph = new StateGraph(State)
    .addNode("researcher", research)
    .addNode("extractor", extract)
    .addNode("analyst", analyse)
    .addNode("summariser", summarise)
    .addNode("factchecker", factcheck)
    .addNode("tools", tools)
    .addEdge(START, "researcher")
    .addEdge("researcher", "extractor")
    .addEdge("extractor", "analyst")
    .addEdge("analyst", "summariser")
    .addEdge("summariser", "factchecker")
    // like toolsCondition, but invalid_tool_calls go to the tools node too (toolsCondition would end the run)
    .addConditionalEdges("factchecker", routeToolCalls, ["tools", END])
    .addEdge("tools", "factchecker")
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

  log(
    `agentarmour demo: ${runs} runs of research -> extract -> analyse -> summarise -> fact-check, ledger in ${filename}\n`
  )
  let seenTransitions = (await ledger((l) => l.transitions({ limit: 1 })))[0]?.createdAt.getTime() ?? 0
  try {
    for (run = 0; run < runs; run++) {
      if (options.signal?.aborted === true) {
        log(`\ninterrupted after ${run} runs; the ledger in ${filename} keeps what they recorded`)
        return { outcomes, summary: [], transitions: [], spend: [], toolCalls: [] }
      }
      const before = outcomes.length
      const topic = TOPICS[run % TOPICS.length]!
      models = modelsOf(run, random)
      if (run === 8) log("   ~~ the research model's provider starts failing ~~")
      if (run === 22) log("   ~~ the provider recovers ~~")
      const final = await graph.invoke({ topic }, { configurable: { thread_id: `run-${run}` } })
      log(`run ${String(run + 1).padStart(2)}  ${collapse(outcomes.slice(before).map((o) => `${o.node} ${icon(o)}`))}`)
      if (final.summary?.startsWith("[paged")) log(`        summary: ${final.summary}`)
      // a refused tool call was answered with an error ToolMessage: show ToolGuard's decisions from the ledger
      if (final.messages.some((m) => m.getType() === "tool" && (m as ToolMessage).status === "error")) {
        const calls = [...await ledger((l) => Effect.zipRight(l.flush, l.toolCalls({ run: `run-${run}` })))].reverse()
        log(`        tools: ${calls.map((c) => `${c.tool} ${c.outcome}`).join(", ")}`)
        log(`        (ToolGuard answered each bad call with an error ToolMessage; the model corrected itself)`)
      }
      const fresh = (await ledger((l) => l.transitions({ limit: 20 })))
        .filter((t) => t.createdAt.getTime() > seenTransitions)
        .reverse()
      for (const t of fresh) log(`        breaker ${t.breakerName}: ${t.fromState} -> ${t.toState} (${t.reason})`)
      if (fresh.length > 0) seenTransitions = fresh[fresh.length - 1]!.createdAt.getTime()
      await sleep(isOutage() ? 60 : 20)
    }
    const summary = await ledger((l) => l.summary)
    const transitions = await ledger((l) => l.transitions({ limit: 1000 }))
    const spend = await ledger((l) => Effect.zipRight(l.flush, l.usage({ by: "node" })))
    const toolCalls = await ledger((l) => l.toolCalls({ limit: 10_000 }))
    const { table } = await import("../src/cli/format.js")
    log("\nledger summary:\n")
    log(table(
      ["BREAKER", "STATE", "FAILURES", "TRANSITIONS", "FALLBACKS"],
      summary.map((
        s
      ) => [s.breakerName, s.state, String(s.failuresTotal), String(s.transitions), String(s.fallbacksServed)])
    ))
    log("\nspend (scripted models, priced per model):\n")
    log(table(
      ["NODE", "CALLS", "TOKENS IN", "TOKENS OUT", "COST (USD)"],
      spend.map((u) => [u.key, String(u.calls), String(u.tokensIn), String(u.tokensOut), u.costUsd.toFixed(4)])
    ))
    log("\ntool calls (ToolGuard's decisions):\n")
    log(table(["TOOL", "OUTCOME", "CALLS"], countBy([...toolCalls].reverse(), (c) => [c.tool, c.outcome])))
    // the hints name the ledger the demo wrote, so they can be pasted as they are
    const dbFlag = filename === "cascadebreaker.db" ? "" : ` --db ${shellQuote(filename)}`
    log(`\nnext: npx agentarmour ledger summary${dbFlag}      (the ledger is ${filename})`)
    log(`      npx agentarmour ledger failures --breaker research${dbFlag}`)
    log(`      npx agentarmour ledger tools${dbFlag}             (the fact-checker's tool calls)`)
    log(`      npx agentarmour dashboard${dbFlag}            (then open http://127.0.0.1:8765)`)
    return { outcomes, summary, transitions, spend, toolCalls }
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
