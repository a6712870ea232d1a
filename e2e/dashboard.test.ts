/**
 * The dashboard in a real browser: Debian's chromium (/usr/bin/chromium or
 * CHROME_PATH) driven by playwright-core. Run with `npm run test:e2e`.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, ManagedRuntime } from "effect"
import { existsSync, mkdtempSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium, type Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Ledger } from "agentarmour"
import { Dashboard } from "agentarmour/dashboard"
import { SqliteLedger } from "agentarmour/sqlite"
import { runDemo } from "../examples/langgraph_pipeline.js"

const executablePath = process.env["CHROME_PATH"] ?? "/usr/bin/chromium"
const filename = join(mkdtempSync(join(tmpdir(), "agentarmour-e2e-")), "cascadebreaker.db")
const evil = `<img src=x onerror=alert(1)>`

let browser: Browser
let writer: ManagedRuntime.ManagedRuntime<Ledger.Ledger, Ledger.LedgerError>
let server: ManagedRuntime.ManagedRuntime<HttpServer.HttpServer, unknown>
let url: string

const record = (f: Partial<ConstructorParameters<typeof Ledger.FailureRecord>[0]>) =>
  writer.runPromise(Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    yield* ledger.recordFailure(new Ledger.FailureRecord({
      breakerName: "research",
      category: "exception",
      errorType: "AgentError",
      errorMessage: "boom",
      traceback: "AgentError: boom\n    at researchAgent",
      createdAt: new Date(),
      ...f
    }))
    yield* ledger.flush
  }))

beforeAll(async () => {
  if (!existsSync(executablePath)) throw new Error(`no chromium at ${executablePath}: apt-get install -y chromium, or set CHROME_PATH`)
  await runDemo({ filename, runs: 30, log: () => {} })
  writer = ManagedRuntime.make(SqliteLedger.layer({ filename }))
  await record({ breakerName: evil, errorMessage: `<script>alert("pwned")</script>`, traceback: `<b>bold?</b>` })
  server = ManagedRuntime.make(
    HttpServer.serve(Dashboard.app({ pollInterval: "200 millis" })).pipe(
      Layer.provideMerge(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" })),
      Layer.provide(SqliteLedger.layerReadonly({ filename }))
    )
  )
  const address = await server.runPromise(Effect.map(HttpServer.HttpServer, (s) => s.address))
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  url = `http://127.0.0.1:${address.port}/`
  browser = await chromium.launch({
    executablePath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
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
    expect(states.every((s) => ["closed", "open", "half-open"].includes(s))).toBe(true)
    expect(await page.locator("#timeline canvas").count()).toBeGreaterThan(0)
    expect(Number(await page.locator("#card-failures").textContent())).toBeGreaterThan(0)
    if (process.env["SCREENSHOT"]) await page.screenshot({ path: process.env["SCREENSHOT"], fullPage: true })
    expect(errors, errors.join("\n")).toEqual([])
    await page.close()
  })

  it("a row written to the ledger appears without a reload", async () => {
    const page = await browser.newPage()
    await page.goto(url)
    await page.locator("#failures tbody tr").first().waitFor()
    await record({ breakerName: "extract", errorMessage: "a brand new failure, live" })
    await page.locator("#failures", { hasText: "a brand new failure, live" }).waitFor({ timeout: 10_000 })
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
