import { join } from "node:path"

import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Fiber, TestClock } from "effect"

import { main as agentTesting } from "../examples/agent_testing.js"
import { program as basicUsage } from "../examples/basic_usage.js"
import { main as budget } from "../examples/budget.js"
import { main as effectNodes } from "../examples/effect_nodes.js"
import { program as fallbacks } from "../examples/fallbacks.js"
import { program as guard } from "../examples/guard.js"
import { main as handoff } from "../examples/handoff.js"
import { runDemo } from "../examples/langgraph_pipeline.js"
import { aborted as sdkAborted, program as sdkCall } from "../examples/sdk_call.js"
import { main as telemetry } from "../examples/telemetry.js"
import { main as toolguard } from "../examples/toolguard.js"
import { tempDir as tempTestDir } from "./support/tmp.js"

describe("examples", () => {
  it("examples/toolguard.ts: unknown tool, malformed JSON, a loop and a rejected delete are answered and the agent finishes", async () => {
    const log: Array<string> = []
    const result = await toolguard((l) => log.push(l))
    expect(result.answer).toBe("Circuit breakers stop calling a failing service; three sources agree.")
    expect(result.outcomes).toEqual([
      "serch: unknown_tool",
      "search: malformed",
      "search: ok",
      "search: ok",
      "search: repeated",
      "remove: rejected"
    ])
    expect(log[0]).toContain("agentarmour/tool-approval")
  })

  it("examples/agent_testing.ts: a scripted ReAct agent, a cassette replayed in lockdown, a breaker in virtual time", async () => {
    const log: Array<string> = []
    const result = await agentTesting((l) => log.push(l))
    expect(result.scripted.path).toEqual(["agent", "tools", "agent"])
    expect(result.cassette).toEqual({
      recordedCalls: 2,
      replayCalls: 0,
      answer: "Three papers; the oldest is from 2007."
    })
    expect(result.virtualTime).toEqual([
      "after 30 s: fallback",
      "breaker open: fallback",
      "after 60 s more: on time"
    ])
  })

  it.effect("examples/sdk_call.ts: the hanging SDK call is aborted at callTimeout and the cheap model answers", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(sdkCall)
      yield* TestClock.adjust("2 seconds")
      const lines = yield* Fiber.join(fiber)
      expect(lines).toEqual([
        `completion of "a haiku about breakers"`,
        `(cheap model) a short answer to "slow: an essay about breakers"`,
        "calls 2, timeouts 1"
      ])
      expect(sdkAborted).toMatchObject([{ _tag: "CallTimeoutError", breaker: "writer", timeoutMillis: 2000 }])
    }))

  it.effect("examples/fallbacks.ts shows each strategy answering", () =>
    Effect.gen(function*() {
      const lines = yield* fallbacks
      expect(lines.join("\n")).toMatch(/cache, failing: +3 papers/)
      expect(lines.join("\n")).toContain("1 paper (cheap model)")
      expect(lines.join("\n")).toContain("on-call answered for research")
      expect(lines.join("\n")).toContain("1 paper on breakers; 1 paper on fallbacks; 1 paper on guards")
      expect(lines.at(-1)).toBe(`breaker "research" is OPEN, fallbacks served: 4`)
    }))

  it.effect("examples/guard.ts masks the failed run's entities and leaves the other run alone", () =>
    Effect.gen(function*() {
      const lines = yield* guard
      expect(lines[0]).toBe("thread-1: entities unavailable: upstream agent degraded")
      expect(lines[1]).toBe("thread-2: found 4 entities")
      expect(lines[2]).toContain("ledger: quarantine entities in thread-1")
    }))

  it.effect("examples/basic_usage.ts answers from the cache, then the backup, once the breaker opens", () =>
    Effect.gen(function*() {
      const lines = yield* basicUsage
      expect(lines[2]).toBe("breakers: findings on breakers (#2)  [breaker CLOSED]")
      expect(lines[3]).toBe("fallbacks: (cheap model) a guess about fallbacks  [breaker OPEN]")
      expect(lines.at(-1)).toContain("transition CLOSED -> OPEN")
    }))

  it("examples/effect_nodes.ts runs Effect nodes with services from the bridge's layer", async () => {
    const lines = await effectNodes()
    expect(lines[0]).toContain(`a thoughtful answer to "polish:`)
    expect(lines[1]).toBe(`poison pill -> (fallback) I could not answer "poison pill" [fallback: degrade]`)
  })

  it("examples/handoff.ts: agents hand off with Commands, and fallbacks keep the handoff going", async () => {
    const lines = await handoff()
    expect(lines).toEqual([
      "-- healthy",
      "travel_advisor: Aruba: warm and sunny all year.",
      "hotel_advisor: Stay at the Bucuti & Tara Beach Resort.",
      "events: travel_advisor ok CLOSED, hotel_advisor ok CLOSED",
      "last fallback marker: none",
      "-- travel model hangs",
      "travel_advisor: (backup model) Try Aruba.",
      "hotel_advisor: Stay at the Bucuti & Tara Beach Resort.",
      "events: travel_advisor fallback/degrade CLOSED, hotel_advisor ok CLOSED",
      "last fallback marker: degrade",
      "-- hotel provider down",
      "travel_advisor: Aruba: warm and sunny all year.",
      "on_call: [paged a human for hotel_advisor] We will email you hotel options.",
      "events: travel_advisor ok CLOSED, hotel_advisor fallback/escalate CLOSED",
      "last fallback marker: escalate"
    ])
  })

  it("examples/telemetry.ts exports an agentarmour.node span per protected call", async () => {
    const lines = await telemetry()
    expect(lines).toEqual([
      "agentarmour.node node=researcher breaker=research outcome=ok",
      "agentarmour.node node=summariser breaker=summarise outcome=ok",
      "agentarmour.node node=researcher breaker=research outcome=fallback fallback=degrade",
      "agentarmour.node node=summariser breaker=summarise outcome=ok"
    ])
  })

  it(
    "examples/langgraph_pipeline.ts (npm start) opens and recovers breakers, refuses the fact-checker's bad tool calls and writes the SQLite ledger",
    async () => {
      const filename = join(tempTestDir("agentarmour-demo-"), "cascadebreaker.db")
      const log: Array<string> = []
      const result = await runDemo({ filename, runs: 32, log: (l) => log.push(l) })
      const text = log.join("\n")
      expect(text).toContain("breaker research: CLOSED -> OPEN")
      expect(text).toContain("breaker research: HALF_OPEN -> CLOSED (probe succeeded)")
      expect(text).toContain("timeout -> degrade")
      expect(text).toContain("garbage -> quarantined")
      expect(text).toContain("paged on-call")
      expect(text).toContain("npx agentarmour dashboard")
      expect(result.outcomes.filter((o) => o.outcome === "failed")).toEqual([])
      const db = new Database(filename, { readonly: true })
      const categories = db.prepare("SELECT DISTINCT category FROM cb_failures ORDER BY category").all()
      // ToolGuard's decisions are in cb_tool_calls (the dashboard's tool panel, `agentarmour ledger tools`):
      // in runs 6, 16 and 26 the fact-checker calls a tool that does not exist, then sends malformed JSON,
      // then corrects itself; every other run looks its claim up once
      const toolRows = db.prepare(
        "SELECT run_id, node, tool, outcome, detail FROM cb_tool_calls WHERE run_id = 'run-5' ORDER BY id"
      ).all()
      const toolOutcomes = db.prepare(
        "SELECT tool, outcome, COUNT(*) AS n FROM cb_tool_calls GROUP BY tool, outcome ORDER BY tool, outcome"
      ).all()
      db.close()
      expect(categories).toEqual([{ category: "contamination" }, { category: "exception" }, { category: "timeout" }])
      expect(toolRows).toMatchObject([
        { run_id: "run-5", node: "tools", tool: "lookup_fact", outcome: "unknown_tool" },
        { run_id: "run-5", node: "tools", tool: "lookup", outcome: "malformed" },
        { run_id: "run-5", node: "tools", tool: "lookup", outcome: "ok", detail: null }
      ])
      expect((toolRows as Array<{ detail: string }>)[0]!.detail).toContain(`Did you mean "lookup"?`)
      expect((toolRows as Array<{ detail: string }>)[1]!.detail).toContain("<wikipedia>")
      expect(toolOutcomes).toEqual([
        { tool: "lookup", outcome: "malformed", n: 3 },
        { tool: "lookup", outcome: "ok", n: 32 },
        { tool: "lookup_fact", outcome: "unknown_tool", n: 3 }
      ])
      expect(result.toolCalls).toHaveLength(38)
      // ... and the run still finishes: the fact-checker answered in every run
      expect(result.outcomes.filter((o) => o.node === "factchecker").every((o) => o.outcome === "ok")).toBe(true)
      expect(text).toContain(
        "run  6  researcher ok | extractor ok | analyst ok | summariser ok | factchecker ok x4\n" +
          "        tools: lookup_fact unknown_tool, lookup malformed, lookup ok\n" +
          "        (ToolGuard answered each bad call with an error ToolMessage; the model corrected itself)"
      )
      expect(text).toContain("npx agentarmour ledger tools")
      // the scripted models report usage: every agent's spend is in the ledger (the dashboard's spend panel)
      expect(result.spend.map((u) => u.key).sort()).toEqual([
        "analyst",
        "extractor",
        "factchecker",
        "researcher",
        "summariser"
      ])
      for (const u of result.spend) expect(u.costUsd).toBeGreaterThan(0)
      expect(text).toMatch(/spend \(scripted models, priced per model\)/)
    },
    60_000
  )

  it(
    "examples/budget.ts stops the looping researcher with a per-run cost budget and degrades to the cheaper model",
    async () => {
      const filename = join(tempTestDir("agentarmour-budget-"), "budget.db")
      const log: Array<string> = []
      const result = await budget({ filename, log: (l) => log.push(l) })
      expect(log[0]).toBe(
        "thread-1: 4 rounds on gpt-4o, then degrade: circuit breakers: 4 findings, summarised by gpt-4o-mini"
      )
      expect(log[1]).toBe(
        "thread-2: 4 rounds on gpt-4o, then degrade: agent budgets: 4 findings, summarised by gpt-4o-mini"
      )
      expect(log[2]).toBe(`refused: budget "research" spent $0.024 of $0.02 for the run`)
      expect(result.byRun.map((u) => [u.key, u.calls, u.tokensIn, u.tokensOut])).toEqual([
        ["thread-1", 4, 4800, 1200],
        ["thread-2", 4, 4800, 1200]
      ])
      expect(result.byNode.map((u) => [u.key, u.calls])).toEqual([["researcher", 8]])
      expect(result.byNode[0]!.costUsd).toBeCloseTo(0.048, 9)
      expect(log.at(-1)).toContain("npx agentarmour ledger usage --by run --db")
      const db = new Database(filename, { readonly: true })
      const rows = db.prepare("SELECT COUNT(*) AS n FROM cb_usage").get()
      db.close()
      expect(rows).toEqual({ n: 8 })
    },
    60_000
  )
})
