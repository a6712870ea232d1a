/**
 * The dashboard in a real browser: Debian's chromium (/usr/bin/chromium or
 * CHROME_PATH) driven by playwright-core. Run with `npm run test:e2e`.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"

import { HttpServer } from "@effect/platform"
import { Ledger } from "agentarmour"
import { Dashboard } from "agentarmour/dashboard"
import { SqliteLedger } from "agentarmour/sqlite"
import { Effect, Layer, ManagedRuntime, type ParseResult } from "effect"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

import { runDemo } from "../examples/langgraph_pipeline.js"
import { tempDir as tempTestDir } from "../test/support/tmp.js"

const executablePath = process.env["CHROME_PATH"] ?? "/usr/bin/chromium"
const filename = join(tempTestDir("agentarmour-e2e-"), "cascadebreaker.db")
const evil = `<img src=x onerror=alert(1)>`

let browser: Browser
let writer: ManagedRuntime.ManagedRuntime<Ledger.Ledger, Ledger.LedgerError | ParseResult.ParseError>
let server: ManagedRuntime.ManagedRuntime<HttpServer.HttpServer, unknown>
let url: string

const record = (f: Partial<ConstructorParameters<typeof Ledger.FailureRecord>[0]>) =>
  writer.runPromise(Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    yield* ledger.recordFailure(
      new Ledger.FailureRecord({
        breakerName: "research",
        category: "exception",
        errorType: "AgentError",
        errorMessage: "boom",
        traceback: "AgentError: boom\n    at researchAgent",
        createdAt: new Date(),
        ...f
      })
    )
    yield* ledger.flush
  }))

/** a librarian's tools (the demo has none of these): what ToolGuard decided over the last 2 hours */
const TOOL_CALLS: ReadonlyArray<readonly [tool: string, outcome: Ledger.ToolCallOutcome, count: number]> = [
  ["catalogue_lookup", "ok", 7],
  ["catalogue_lookup", "repaired", 1],
  ["catalogue_lookup", "repeated", 3],
  ["catalog_lookup", "unknown_tool", 2],
  ["shelve_book", "denied", 1],
  ["web_fetch", "ok", 5],
  ["web_fetch", "failed", 1],
  ["web_fetch", "open", 1]
]

const toolDetail = (tool: string, outcome: Ledger.ToolCallOutcome) =>
  outcome === "unknown_tool"
    ? `There is no tool "${tool}". Did you mean "catalogue_lookup"? The available tools are "catalogue_lookup", "shelve_book", "web_fetch".`
    : outcome === "repeated"
    ? `You already called "${tool}" with these exact arguments 3 times.`
    : outcome === "ok"
    ? null
    : `${outcome}: ${tool}`

const seedToolCalls = (ledger: Ledger.Ledger, now: number) =>
  Effect.forEach(
    TOOL_CALLS,
    ([tool, outcome, count]) =>
      Effect.forEach(Array.from({ length: count }), (_, k) =>
        ledger.recordToolCall(
          new Ledger.ToolCallRecord({
            runId: "thread-looping",
            node: "librarian_tools",
            tool,
            callId: `call_${tool}_${outcome}_${k}`,
            outcome,
            detail: toolDetail(tool, outcome),
            createdAt: new Date(now - (k + 1) * 7 * 60_000)
          })
        ))
  )

/** the tool's row of the tool calls panel (a detail may name another tool) */
const toolRow = (page: Page, tool: string, row = "tr") =>
  page.locator(`#tools tbody ${row}`).filter({ has: page.locator(".tool-name", { hasText: new RegExp(`^${tool}$`) }) })

/** a week of traffic through the call statistics, an OPEN breaker with its reason, fallbacks by strategy */
const seedTraffic = () =>
  writer.runPromise(Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const now = Date.now()
    const breakers = ["research", "extract", "analyse", "summarise"]
    // deterministic "random": the same page on every run
    let seed = 7
    const next = () => (seed = (seed * 48271) % 2147483647) / 2147483647
    for (let minute = 7 * 24 * 60; minute >= 0; minute -= minute > 120 ? 37 : 1) {
      for (const [i, breakerName] of breakers.entries()) {
        const createdAt = new Date(now - minute * 60_000)
        const calls = 1 + Math.floor(next() * (6 - i))
        const incident = breakerName === "research" && minute < 25
        for (let c = 0; c < calls; c++) {
          const outcome = incident
            ? (c % 3 === 0 ? "timeout" : "failure")
            : next() < 0.04 * (i + 1)
            ? "failure"
            : "success"
          yield* ledger.recordCall({ breakerName, outcome, slow: next() < 0.05, createdAt })
        }
        if (incident && minute < 12) {
          yield* ledger.recordCall({ breakerName, outcome: "rejected", slow: false, createdAt })
        }
      }
    }
    for (let k = 0; k < 6; k++) {
      const createdAt = new Date(now - k * 90_000)
      yield* ledger.recordFallback(
        new Ledger.FallbackRecord({ breakerName: "research", strategy: k % 3 === 0 ? "degrade" : "cache", createdAt })
      )
    }
    // what budgets charged: a librarian (a node the demo does not have) that looped in one run, over the last 3 hours
    for (let k = 0; k < 12; k++) {
      yield* ledger.recordUsage(
        new Ledger.UsageRecord({
          node: k < 9 ? "librarian" : "writer",
          budget: "per-run",
          runId: k < 9 ? "thread-looping" : "thread-quiet",
          model: "gpt-4o",
          tokensIn: 1_000,
          tokensOut: 500,
          costUsd: 0.0075,
          createdAt: new Date(now - k * 15 * 60_000)
        })
      )
    }
    yield* seedToolCalls(ledger, now)
    yield* ledger.recordTransition(
      new Ledger.TransitionRecord({
        breakerName: "research",
        fromState: "CLOSED",
        toState: "OPEN",
        reason: "5 failures in 60 s (threshold 3)",
        createdAt: new Date(now - 11 * 60_000)
      })
    )
    yield* ledger.flush
  }))

beforeAll(async () => {
  if (!existsSync(executablePath)) {
    throw new Error(`no chromium at ${executablePath}: apt-get install -y chromium, or set CHROME_PATH`)
  }
  await runDemo({ filename, runs: 30, log: () => {} })
  writer = ManagedRuntime.make(SqliteLedger.layer({ filename }))
  await seedTraffic()
  await record({ breakerName: evil, errorMessage: `<script>alert("pwned")</script>`, traceback: `<b>bold?</b>` })
  server = ManagedRuntime.make(
    // as `agentarmour dashboard` serves it: /events and /api/summary answered by the Node fast path
    Dashboard.layer({ port: 0, pollInterval: "200 millis" }).pipe(
      Layer.provide(SqliteLedger.layerReadonly({ filename }))
    )
  )
  const address = await server.runPromise(Effect.map(HttpServer.HttpServer, (s) => s.address))
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  url = `http://127.0.0.1:${address.port}/`
  browser = await chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.dispose()
  await writer?.dispose()
})

describe("the dashboard in headless Chromium", () => {
  it("loads without console errors and shows every breaker with its state as text", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } })
    const errors: Array<string> = []
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()))
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(url)
    await page.locator("#breakers tbody tr", { hasText: "research" }).waitFor()
    const names = await page.locator("#breakers td.breaker").allTextContents()
    expect(names).toEqual(expect.arrayContaining(["research", "extract", "analyse", "summarise"]))
    const states = await page.locator("#breakers .state").allTextContents()
    expect(states.every((s) => ["closed", "open", "half-open", "isolated", "disabled"].includes(s))).toBe(true)
    expect(await page.locator("#chart canvas").count()).toBeGreaterThan(0)
    expect(Number(await page.locator("#card-calls").textContent())).toBeGreaterThan(0)
    expect(await page.locator("header").textContent()).toContain("UTC")
    expect(errors, errors.join("\n")).toEqual([])
    await page.close()
  })

  it("an OPEN breaker shows, on the first screen, since when (UTC) and why", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(url)
    const research = page.locator("#breakers tbody tr", { hasText: "research" })
    await research.locator(".state", { hasText: "open" }).waitFor()
    const since = await research.locator("td[data-label='since (UTC)']").textContent()
    expect(since).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/)
    expect(since).toContain("min ago")
    expect(await research.locator("td[data-label='reason']").textContent()).toBe("5 failures in 60 s (threshold 3)")
    expect(await research.locator("td[data-label='fallbacks']").textContent()).toMatch(/cache \d+ · degrade \d+/)
    expect(await research.locator("td[data-label='failure rate']").textContent()).toMatch(/^\d+(\.\d)?%$/)
    // the worst breaker comes first and is fully visible without scrolling
    expect(await page.locator("#breakers tbody tr").first().textContent()).toContain("research")
    const box = await research.boundingBox()
    expect(box!.y + box!.height).toBeLessThanOrEqual(800)
    if (process.env["SCREENSHOTS"]) await page.screenshot({ path: join(process.env["SCREENSHOTS"], "dashboard.png") })
    await page.close()
  })

  it("at 390 x 844 the page does not scroll sideways and the breakers read as cards", async () => {
    const page = await browser.newPage({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true
    })
    const errors: Array<string> = []
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(url)
    await page.locator("#breakers tbody tr", { hasText: "research" }).waitFor()
    await page.locator("#chart canvas").first().waitFor()
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    expect(await page.locator("#breakers thead").isVisible()).toBe(false)
    const reason = page.locator("#breakers tbody tr", { hasText: "research" }).locator("td[data-label='reason']")
    expect(await reason.isVisible()).toBe(true)
    if (process.env["SCREENSHOTS"]) {
      await page.screenshot({ path: join(process.env["SCREENSHOTS"], "dashboard-mobile.png") })
    }
    expect(errors).toEqual([])
    await page.close()
  })

  it("each breaker keeps one colour, in the tables and the chart, when filtering", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(url)
    await page.locator("#chart canvas").first().waitFor()
    const swatch = (name: string) =>
      page.locator("#breakers tbody tr", { hasText: name }).locator(".swatch").evaluate((e) =>
        getComputedStyle(e).backgroundColor
      )
    const legend = (name: string) =>
      page.locator("#chart .u-series", { hasText: name }).locator(".u-marker").evaluate((e) =>
        getComputedStyle(e).borderColor
      )
    const colours = { research: await swatch("research"), extract: await swatch("extract") }
    expect(colours.research).not.toBe(colours.extract)
    expect(await legend("research")).toBe(colours.research)
    await page.locator("#filter").selectOption("extract")
    expect(await swatch("extract")).toBe(colours.extract)
    expect(await legend("extract")).toBe(colours.extract)
    await page.locator("#filter").selectOption("research")
    expect(await swatch("research")).toBe(colours.research)
    expect(await legend("research")).toBe(colours.research)
    await page.close()
  })

  it("switching the chart range redraws it with buckets that fit the range", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(url)
    const chart = page.locator("#chart")
    await page.locator("#chart canvas").first().waitFor()
    expect(await chart.getAttribute("data-points")).toBe("60")
    const pixels = () => page.locator("#chart canvas").evaluate((c) => (c as HTMLCanvasElement).toDataURL())
    const before = await pixels()
    for (const [label, points] of [["15 min", "15"], ["24 h", "96"], ["7 d", "168"]] as const) {
      await page.getByRole("button", { name: label, exact: true }).click()
      await page.waitForFunction((p) => document.getElementById("chart")!.getAttribute("data-points") === p, points)
      expect(await page.getByRole("button", { name: label, exact: true }).getAttribute("aria-pressed")).toBe("true")
    }
    expect(await page.locator("#chart-title").textContent()).toBe("failed calls per hour")
    expect(await pixels()).not.toBe(before)
    expect(await page.locator("#chart canvas").count()).toBe(1)
    await page.close()
  })

  it("the spend panel shows cost per node and per run over the chart range, and follows a range switch", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(url)
    // 1 h: the four usage records of the last hour (k = 0..3, every 15 minutes), all by the librarian
    const node = page.locator("#spend-node tbody tr", { hasText: "librarian" })
    await node.waitFor({ timeout: 10_000 })
    expect(await node.locator("td").nth(1).textContent()).toBe("4")
    expect(await node.locator("td").nth(4).textContent()).toBe("0.0300")
    expect(await page.locator("#spend-run tbody tr", { hasText: "thread-looping" }).count()).toBe(1)
    expect(await page.locator("#spend-run tbody tr", { hasText: "thread-quiet" }).count()).toBe(0)
    // 24 h: all twelve, the writer's quiet run too
    await page.getByRole("button", { name: "24 h", exact: true }).click()
    await page.locator("#spend-run tbody tr", { hasText: "thread-quiet" }).waitFor({ timeout: 10_000 })
    expect(await page.locator("#spend-node tbody tr", { hasText: "librarian" }).locator("td").nth(1).textContent())
      .toBe("9")
    await page.close()
  })

  it("the tool calls panel shows each tool's decisions by outcome, and a tool with refusals is highlighted", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(url)
    const lookup = toolRow(page, "catalogue_lookup")
    await lookup.waitFor({ timeout: 10_000 })
    const outcomes = (row: typeof lookup) => row.locator(".outcome").allTextContents()
    // one row per tool, with its count per outcome: refusals first
    expect(await outcomes(lookup)).toEqual(["repeated 3", "ok 7", "repaired 1"])
    expect(await lookup.locator("td[data-label='decisions']").textContent()).toBe("11")
    expect(await lookup.locator("td[data-label='refused']").textContent()).toBe("3")
    const typo = toolRow(page, "catalog_lookup")
    expect(await outcomes(typo)).toEqual(["unknown_tool 2"])
    expect(await typo.locator("td[data-label='what the model read']").textContent()).toContain(
      "Did you mean \"catalogue_lookup\"?"
    )
    const web = toolRow(page, "web_fetch")
    expect(await outcomes(web)).toEqual(["failed 1", "open 1", "ok 5"])
    // a tool with refusals: marked in text ("refused") and in colour; one without, neither
    for (const refused of [lookup, typo, toolRow(page, "shelve_book")]) {
      expect(await refused.getAttribute("class")).toContain("refused")
      expect(await refused.locator(".flag-refused").textContent()).toBe("refused")
    }
    expect(await web.getAttribute("class") ?? "").not.toContain("refused")
    expect(await web.locator(".flag-refused").count()).toBe(0)
    const background = (row: typeof lookup) =>
      row.locator("td[data-label='decisions']").evaluate((e) => getComputedStyle(e).backgroundColor)
    expect(await background(lookup)).not.toBe(await background(web))
    expect(await lookup.locator(".outcome[data-kind='refused']").textContent()).toBe("repeated 3")
    const badge = (kind: string) =>
      lookup.locator(`.outcome[data-kind='${kind}']`).first().evaluate((e) => getComputedStyle(e).backgroundColor)
    expect(await badge("refused")).not.toBe(await badge("ran"))
    // tools with refusals come first, the most refused first (the demo's own tools are in the list too)
    const tools = await page.locator("#tools td.tool .tool-name").allTextContents()
    const seeded = new Set(TOOL_CALLS.map(([tool]) => tool))
    expect(tools.filter((t) => seeded.has(t))).toEqual([
      "catalogue_lookup",
      "catalog_lookup",
      "shelve_book",
      "web_fetch"
    ])
    const flagged = await page.locator("#tools tbody tr").evaluateAll((rows) =>
      rows.map((r) => r.classList.contains("refused"))
    )
    expect(flagged.indexOf(false) === -1 || flagged.slice(flagged.indexOf(false)).every((f) => !f)).toBe(true)
    expect(Number(await page.locator("#card-refused").textContent())).toBeGreaterThanOrEqual(6)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280)
    if (process.env["SCREENSHOTS"]) {
      await page.locator("#tool-calls").screenshot({ path: join(process.env["SCREENSHOTS"], "dashboard-tools.png") })
    }
    await page.close()
  })

  it("at 390 x 844 each tool reads as a card with its outcomes, refusals marked, and nothing scrolls sideways", async () => {
    const page = await browser.newPage({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true
    })
    await page.goto(url)
    const lookup = toolRow(page, "catalogue_lookup")
    await lookup.waitFor({ timeout: 10_000 })
    await lookup.scrollIntoViewIfNeeded()
    expect(await page.locator("#tools thead").isVisible()).toBe(false)
    expect(await lookup.locator(".flag-refused").isVisible()).toBe(true)
    expect(await lookup.locator(".outcome").allTextContents()).toEqual(["repeated 3", "ok 7", "repaired 1"])
    for (const row of await page.locator("#tools tbody tr").all()) {
      const box = (await row.boundingBox())!
      expect(box.x).toBeGreaterThanOrEqual(0)
      expect(box.x + box.width).toBeLessThanOrEqual(390)
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    if (process.env["SCREENSHOTS"]) {
      await page.locator("#tool-calls").screenshot({
        path: join(process.env["SCREENSHOTS"], "dashboard-tools-mobile.png")
      })
    }
    await page.close()
  })

  it("a new refusal appears in the tool calls panel without a reload", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(url)
    await toolRow(page, "catalogue_lookup").waitFor({ timeout: 10_000 })
    await page.evaluate(() => ((window as any).__marker = "same page"))
    await writer.runPromise(
      Effect.flatMap(Ledger.Ledger, (l) =>
        Effect.zipRight(
          l.recordToolCall(
            new Ledger.ToolCallRecord({
              runId: "thread-live",
              node: "librarian_tools",
              tool: "renew_loan",
              callId: "call_live",
              outcome: "malformed",
              detail: "the arguments are not JSON: {\"days\": 14",
              createdAt: new Date()
            })
          ),
          l.flush
        ))
    )
    const renew = toolRow(page, "renew_loan", "tr.refused")
    await renew.waitFor({ timeout: 10_000 })
    expect(await renew.locator(".outcome").allTextContents()).toEqual(["malformed 1"])
    expect(await page.evaluate(() => (window as any).__marker)).toBe("same page")
    await page.close()
  })

  it("a new failure appears without a reload, in the table and in the chart", async () => {
    const page = await browser.newPage()
    await page.goto(url)
    await page.locator("#failures tbody tr").first().waitFor()
    await page.evaluate(() => ((window as any).__marker = "same page"))
    const before = await page.locator("#card-calls").textContent()
    await record({ breakerName: "extract", errorMessage: "a brand new failure, live" })
    await writer.runPromise(
      Effect.flatMap(Ledger.Ledger, (l) =>
        Effect.zipRight(
          l.recordCall({ breakerName: "extract", outcome: "failure", slow: false, createdAt: new Date() }),
          l.flush
        ))
    )
    await page.locator("#failures", { hasText: "a brand new failure, live" }).waitFor({ timeout: 10_000 })
    await page.waitForFunction((b) => document.getElementById("card-calls")!.textContent !== b, before, {
      timeout: 10_000
    })
    expect(await page.evaluate(() => (window as any).__marker)).toBe("same page")
    await page.close()
  })

  it("a breaker named like an HTML tag renders as text and runs nothing", async () => {
    const page = await browser.newPage()
    let dialog = false
    page.on("dialog", async (d) => {
      dialog = true
      await d.dismiss()
    })
    await page.goto(url)
    await page.locator("#breakers td.breaker", { hasText: evil }).waitFor()
    expect(await page.locator("main img").count()).toBe(0)
    expect(await page.locator("main script").count()).toBe(0)
    await page.locator("#failures details summary", { hasText: `<script>alert("pwned")</script>` }).first().click()
    expect(await page.locator("#failures pre", { hasText: "<b>bold?</b>" }).count()).toBe(1)
    await page.waitForTimeout(300)
    expect(dialog).toBe(false)
    await page.close()
  })
})
