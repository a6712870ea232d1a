import { describe, expect, it, layer } from "@effect/vitest"
import { HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { BreakerRegistry, Ledger, withBreaker } from "agentarmour"
import { Dashboard } from "agentarmour/dashboard"
import { SqliteLedger } from "agentarmour/sqlite"

const filename = join(mkdtempSync(join(tmpdir(), "agentarmour-dash-")), "ledger.db")
const evil = `<img src=x onerror=alert(1)>`

const seeded = Layer.effectDiscard(Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  const at = new Date()
  yield* ledger.recordFailure(new Ledger.FailureRecord({
    breakerName: "research",
    category: "exception",
    errorType: "AgentError",
    errorMessage: "model returned \"garbage\"",
    traceback: "AgentError\n    at researchAgent",
    createdAt: at
  }))
  yield* ledger.recordFailure(new Ledger.FailureRecord({
    breakerName: evil,
    category: "timeout",
    errorType: "CallTimeoutError",
    errorMessage: "slow",
    traceback: "",
    createdAt: at
  }))
  yield* ledger.recordTransition(new Ledger.TransitionRecord({ breakerName: "research", fromState: "CLOSED", toState: "OPEN", reason: "3 failures", createdAt: at }))
  yield* ledger.flush
}))

/** the dashboard on a test server (port 0) over a real SQLite ledger, with a live registry */
const TestServer = HttpServer.serve(Dashboard.app({ pollInterval: "50 millis" })).pipe(
  Layer.provideMerge(seeded),
  Layer.provideMerge(BreakerRegistry.layer()),
  Layer.provideMerge(SqliteLedger.layer({ filename })),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

const get = (path: string) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => client.execute(HttpClientRequest.get(path)))

describe("Dashboard over HTTP", () => {
  layer(TestServer, { timeout: 30_000, excludeTestServices: true })((it) => {
    it.effect("GET / serves the page with a Content-Security-Policy and no third-party assets", () =>
      Effect.gen(function*() {
        const res = yield* get("/")
        expect(res.status).toBe(200)
        expect(res.headers["content-security-policy"]).toContain("script-src 'self'")
        const html = yield* res.text
        expect(html).toContain("/assets/uPlot.iife.min.js")
        expect(html).not.toMatch(/https?:\/\//)
        const uplot = yield* get("/assets/uPlot.iife.min.js")
        expect(uplot.status).toBe(200)
        expect((yield* uplot.text).length).toBeGreaterThan(10_000)
      }).pipe(Effect.scoped))

    it.effect("/api/summary, /api/failures and /api/transitions return JSON arrays, newest first, filtered", () =>
      Effect.gen(function*() {
        const summary = (yield* (yield* get("/api/summary")).json) as Array<any>
        expect(summary.map((s) => [s.breakerName, s.state])).toEqual(expect.arrayContaining([["research", "OPEN"], [evil, "CLOSED"]]))
        const failures = (yield* (yield* get("/api/failures?breaker=research&limit=5")).json) as Array<any>
        expect(failures).toHaveLength(1)
        expect(failures[0]).toMatchObject({ breakerName: "research", errorMessage: "model returned \"garbage\"" })
        const transitions = (yield* (yield* get("/api/transitions?limit=1")).json) as Array<any>
        expect(transitions[0]).toMatchObject({ fromState: "CLOSED", toState: "OPEN" })
      }).pipe(Effect.scoped))

    it.effect("bad query parameters get a 400 that names the parameter", () =>
      Effect.gen(function*() {
        for (const q of ["limit=-3", "limit=abc", "limit=5000"]) {
          const res = yield* get(`/api/failures?${q}`)
          expect(res.status).toBe(400)
          const body = (yield* res.json) as { error: string }
          expect(body.error).toContain("limit")
        }
        expect((yield* get("/nope")).status).toBe(404)
      }).pipe(Effect.scoped))

    it.effect("/metrics is Prometheus text with per-breaker state, failures and live calls, labels escaped", () =>
      Effect.gen(function*() {
        yield* Effect.either(Effect.fail("x").pipe(withBreaker("research")))
        const res = yield* get("/metrics")
        expect(res.headers["content-type"]).toContain("text/plain")
        const text = yield* res.text
        expect(text).toContain(`agentarmour_breaker_state{breaker="research",state="OPEN"} 1`)
        expect(text).toContain(`agentarmour_failures_total{breaker="research"}`)
        expect(text).toContain(`agentarmour_calls_total{breaker="research"} 1`)
        expect(text).toContain(`agentarmour_breaker_state{breaker="<img src=x onerror=alert(1)>",state="CLOSED"} 0`)
      }).pipe(Effect.scoped))

    it.scoped("/events streams a snapshot at once and another when the ledger changes", () =>
      Effect.gen(function*() {
        const res = yield* get("/events")
        expect(res.headers["content-type"]).toContain("text/event-stream")
        const ledger = yield* Ledger.Ledger
        const decoder = new TextDecoder()
        let buffer = ""
        const seen: Array<string> = []
        yield* res.stream.pipe(
          Stream.mapEffect((chunk) =>
            Effect.gen(function*() {
              buffer += decoder.decode(chunk)
              const parts = buffer.split("\n\n")
              buffer = parts.pop()!
              for (const part of parts) {
                seen.push(part)
                if (seen.length === 1) {
                  // a write after the first snapshot must reach the page without a reload
                  yield* ledger.recordFailure(new Ledger.FailureRecord({
                    breakerName: "extract",
                    category: "exception",
                    errorType: "AgentError",
                    errorMessage: "a new failure",
                    traceback: "",
                    createdAt: new Date()
                  }))
                  yield* ledger.flush
                }
              }
            })
          ),
          Stream.takeUntil(() => seen.length >= 2),
          Stream.runDrain,
          Effect.timeout("10 seconds")
        )
        expect(seen[0]).toMatch(/^event: snapshot\ndata: \{/)
        expect(seen[1]).toContain("a new failure")
      }), 20_000)
  })
})

describe("Dashboard.layer", () => {
  it.live("serves the application's own ledger in-process, on 127.0.0.1 by default", () =>
    Effect.gen(function*() {
      const { createServer } = yield* Effect.promise(() => import("node:net"))
      const port = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const s = createServer().listen(0, "127.0.0.1", () => {
            const p = (s.address() as { port: number }).port
            s.close(() => resolve(p))
          })
        })
      )
      const ledger = yield* Ledger.Ledger
      yield* ledger.recordTransition(new Ledger.TransitionRecord({ breakerName: "inproc", fromState: "CLOSED", toState: "OPEN", reason: "x", createdAt: new Date() }))
      yield* Layer.launch(Dashboard.layer({ port })).pipe(Effect.forkScoped)
      let body: Array<{ breakerName: string; state: string }> = []
      for (let i = 0; i < 50 && body.length === 0; i++) {
        yield* Effect.sleep("20 millis")
        body = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/api/summary`).then((r) => r.json()).catch(() => []))
      }
      expect(body).toEqual([expect.objectContaining({ breakerName: "inproc", state: "OPEN" })])
    }).pipe(Effect.scoped, Effect.provide(Ledger.layerMemory)))
})
