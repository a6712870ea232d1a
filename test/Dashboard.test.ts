import { createServer } from "node:http"
import { join } from "node:path"

import { HttpClient, HttpClientRequest, HttpServer, HttpServerRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import { BreakerRegistry, Ledger, withBreaker } from "agentarmour"
import { Dashboard } from "agentarmour/dashboard"
import { SqliteLedger } from "agentarmour/sqlite"
import { Cause, Context, Effect, Exit, Layer, Metric, MetricBoundaries, Option, Scope, Stream } from "effect"
import { tempDir as tempTestDir } from "./support/tmp.js"

const filename = join(tempTestDir("agentarmour-dash-"), "ledger.db")
const evil = `<img src=x onerror=alert(1)>`

const seeded = Layer.effectDiscard(Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  const at = new Date()
  yield* ledger.recordFailure(
    new Ledger.FailureRecord({
      breakerName: "research",
      category: "exception",
      errorType: "AgentError",
      errorMessage: "model returned \"garbage\"",
      traceback: "AgentError\n    at researchAgent",
      createdAt: at
    })
  )
  yield* ledger.recordFailure(
    new Ledger.FailureRecord({
      breakerName: evil,
      category: "timeout",
      errorType: "CallTimeoutError",
      errorMessage: "slow",
      traceback: "",
      createdAt: at
    })
  )
  yield* ledger.recordTransition(
    new Ledger.TransitionRecord({
      breakerName: "research",
      fromState: "CLOSED",
      toState: "OPEN",
      reason: "3 failures",
      createdAt: at
    })
  )
  yield* ledger.flush
}))

/** the dashboard on a test server (port 0) over a real SQLite ledger, with a live registry */
const TestServer = Layer.unwrapScoped(
  Effect.map(Dashboard.make({ pollInterval: "50 millis" }), (app) => HttpServer.serve(app))
).pipe(
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
        expect(summary.map((s) => [s.breakerName, s.state])).toEqual(
          expect.arrayContaining([["research", "OPEN"], [evil, "CLOSED"]])
        )
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

    it.effect("/metrics gives each breaker's state as a gauge value (never a label), escaped, plus live Effect metrics", () =>
      Effect.gen(function*() {
        yield* Effect.either(Effect.fail("x").pipe(withBreaker("research")))
        const seconds = Metric.histogram(
          "agentarmour_test_seconds",
          MetricBoundaries.linear({ start: 0.1, width: 0.1, count: 3 })
        )
        yield* Metric.update(seconds, 0.15)
        yield* Metric.update(
          Metric.counter("agentarmour_test_help_total", { description: "line one\nline two \\ back" }),
          1
        )
        yield* Metric.update(Metric.counter("agentarmour_test_total").pipe(Metric.tagged("breaker", "a\"b\\c\nd")), 1)
        const res = yield* get("/metrics")
        expect(res.headers["content-type"]).toContain("text/plain")
        const text = yield* res.text
        expect(text).toContain(`agentarmour_breaker_state{breaker="research"} 1\n`)
        expect(text).toContain(`agentarmour_breaker_state{breaker="<img src=x onerror=alert(1)>"} 0\n`)
        expect(text).not.toMatch(/agentarmour_breaker_state\{[^}]*state=/)
        expect(text).toMatch(/agentarmour_failures_total\{breaker="research"\} [1-9]\n/)
        expect(text).toContain("# TYPE agentarmour_breaker_state gauge")
        // label values escape backslash, double quote and line feed
        expect(text).toContain(`agentarmour_test_total{breaker="a\\"b\\\\c\\nd"} 1\n`)
        expect(text).toContain(`agentarmour_test_seconds_bucket{le="0.2"} 1\n`)
        expect(text).toContain(`agentarmour_test_seconds_bucket{le="+Inf"} 1\n`)
        expect(text).toContain(`agentarmour_test_seconds_count 1\n`)
        // the breakers of this process report through their Effect metrics
        expect(text).toMatch(/\nagentarmour_calls_total\{[^}]*breaker="research"[^}]*\} [1-9]/)
        expect(text).toMatch(
          /\nagentarmour_call_duration_seconds_bucket\{[^}]*breaker="research"[^}]*le="\+Inf"[^}]*\} [1-9]/
        )
        // HELP text escapes backslash and line feed
        expect(text).toContain(`# HELP agentarmour_test_help_total line one\\nline two \\\\ back\n`)
        // one family per name: a HELP line each
        const helps = text.split("\n").filter((l) => l.startsWith("# HELP ")).map((l) => l.split(" ")[2])
        expect(new Set(helps).size).toBe(helps.length)
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
                  yield* ledger.recordFailure(
                    new Ledger.FailureRecord({
                      breakerName: "extract",
                      category: "exception",
                      errorType: "AgentError",
                      errorMessage: "a new failure",
                      traceback: "",
                      createdAt: new Date()
                    })
                  )
                  yield* ledger.flush
                }
              }
            })
          ),
          Stream.takeUntil(() => seen.some((part) => part.includes("a new failure"))),
          Stream.runDrain,
          Effect.timeout("10 seconds")
        )
        expect(seen[0]).toMatch(/^event: snapshot\ndata: \{/)
        expect(seen.slice(1).some((part) => part.startsWith("event: snapshot") && part.includes("a new failure"))).toBe(
          true
        )
      }), 20_000)
  })
})

/**
 * A memory ledger that also keeps call statistics per minute and counts how
 * often the dashboard reads its summary (the memory ledger's own statistics
 * are the ledger's business; this one only feeds the dashboard).
 */
const countingLedger = Effect.gen(function*() {
  const base = yield* Ledger.makeMemory()
  const minutes = new Map<string, Ledger.CallStats>()
  const reads = { summary: 0 }
  const ledger = Ledger.make({
    ...base,
    summary: Effect.suspend(() => {
      reads.summary++
      return base.summary
    }),
    recordCall: (c) =>
      Effect.sync(() => {
        const minute = Math.floor(c.createdAt.getTime() / 60_000) * 60_000
        const key = `${c.breakerName}@${minute}`
        const old = minutes.get(key)
        const n = (outcome: Ledger.CallRecord["outcome"]) => (c.outcome === outcome ? 1 : 0)
        minutes.set(
          key,
          new Ledger.CallStats({
            breakerName: c.breakerName,
            minute: new Date(minute),
            calls: (old?.calls ?? 0) + (c.outcome === "rejected" ? 0 : 1),
            failures: (old?.failures ?? 0) + n("failure"),
            rejections: (old?.rejections ?? 0) + n("rejected"),
            timeouts: (old?.timeouts ?? 0) + n("timeout"),
            slowCalls: (old?.slowCalls ?? 0) + (c.slow ? 1 : 0),
            fallbacks: old?.fallbacks ?? {}
          })
        )
      }),
    callStats: (q) =>
      Effect.sync(() =>
        Array.from(minutes.values())
          .filter((r) =>
            (q?.breaker === undefined || r.breakerName === q.breaker) && r.minute >= (q?.since ?? new Date(0))
          )
          .sort((a, b) => a.minute.getTime() - b.minute.getTime())
      )
  })
  return { ledger, reads }
})

/** written before the dashboard starts: an old minute, an OPEN breaker, a breaker that never moved */
const seededStats = Layer.effectDiscard(Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  const now = Date.now()
  yield* ledger.recordCall({
    breakerName: "search",
    outcome: "success",
    slow: false,
    createdAt: new Date(now - 3 * 3600_000)
  })
  yield* ledger.recordTransition(
    new Ledger.TransitionRecord({
      breakerName: "checkout",
      fromState: "CLOSED",
      toState: "OPEN",
      reason: "failure rate 60% >= 50%",
      createdAt: new Date(now - 90_000)
    })
  )
  yield* ledger.recordFailure(
    new Ledger.FailureRecord({
      breakerName: "quiet",
      category: "slow",
      errorType: "Slow",
      errorMessage: "slow",
      traceback: "",
      createdAt: new Date(now)
    })
  )
}))

class Reads extends Effect.Tag("test/Reads")<Reads, { summary: number }>() {}

const StatsServer = Layer.unwrapScoped(
  Effect.map(Dashboard.make({ pollInterval: "50 millis" }), (app) => HttpServer.serve(app))
).pipe(
  Layer.provideMerge(seededStats),
  Layer.provideMerge(
    Layer.effectContext(
      Effect.map(
        countingLedger,
        ({ ledger, reads }) => Context.make(Ledger.Ledger, ledger).pipe(Context.add(Reads, reads))
      )
    )
  ),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

const call = (breakerName: string, outcome: Ledger.CallRecord["outcome"], createdAt = new Date()) =>
  Effect.flatMap(Ledger.Ledger, (l) => l.recordCall({ breakerName, outcome, slow: false, createdAt }))

/** polls a JSON route until `ok` holds (the producer publishes on its next tick) */
const until = <A>(path: string, ok: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const body = (yield* (yield* get(path)).json) as A
      if (ok(body)) return body
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.dieMessage(`${path} never satisfied the condition`)
  }).pipe(Effect.scoped)

describe("Dashboard call statistics and the shared snapshot", () => {
  layer(StatsServer, { timeout: 30_000, excludeTestServices: true })((it) => {
    it.effect("/api/stats buckets the call statistics by range: 15 min and 1 h by minute, 24 h by quarter hour, 7 d by hour", () =>
      Effect.gen(function*() {
        yield* call("search", "success")
        yield* call("search", "failure")
        yield* call("search", "timeout")
        yield* call("search", "rejected")
        yield* call("write", "success")
        type Chart = {
          bucketSeconds: number
          times: Array<number>
          series: Array<{ breaker: string; calls: Array<number>; failures: Array<number>; rejections: Array<number> }>
        }
        const m15 = yield* until<Chart>(
          "/api/stats?range=15m",
          (c) => c.series.length === 2 && c.series.some((s) => s.calls.at(-1) === 3)
        )
        expect(m15.times).toHaveLength(15)
        expect(m15.bucketSeconds).toBe(60)
        const search = m15.series.find((s) => s.breaker === "search")!
        expect([search.calls.at(-1), search.failures.at(-1), search.rejections.at(-1)]).toEqual([3, 2, 1])
        expect(search.calls.slice(0, -1).every((n) => n === 0)).toBe(true)
        const h1 = (yield* (yield* get("/api/stats")).json) as Chart
        expect([h1.times.length, h1.bucketSeconds]).toEqual([60, 60])
        const d1 = (yield* (yield* get("/api/stats?range=24h&breaker=search")).json) as Chart
        expect([d1.times.length, d1.bucketSeconds]).toEqual([96, 900])
        expect(d1.series.map((s) => s.breaker)).toEqual(["search"])
        // the call 3 hours ago is in the 24 h range, not in the last hour
        expect(d1.series[0]!.calls.reduce((a, b) => a + b, 0)).toBe(4)
        const d7 = (yield* (yield* get("/api/stats?range=7d")).json) as Chart
        expect([d7.times.length, d7.bucketSeconds]).toEqual([168, 3600])
        expect(d7.times[1]! - d7.times[0]!).toBe(3600)
      }).pipe(Effect.scoped))

    it.effect("/api/usage adds up spend per node or per run over the range", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const spend = (node: string, runId: string, costUsd: number, ago: number) =>
          ledger.recordUsage(
            new Ledger.UsageRecord({
              node,
              budget: "default",
              runId,
              model: "gpt-test",
              tokensIn: 100,
              tokensOut: 50,
              costUsd,
              createdAt: new Date(Date.now() - ago)
            })
          )
        yield* spend("research", "run-1", 0.02, 0)
        yield* spend("research", "run-2", 0.03, 0)
        yield* spend("write", "run-1", 0.01, 0)
        yield* spend("write", "run-1", 5, 3 * 3600_000)
        const byNode = (yield* (yield* get("/api/usage?by=node&range=1h")).json) as Array<Record<string, unknown>>
        expect(byNode).toEqual([
          expect.objectContaining({ key: "research", calls: 2, tokensIn: 200, tokensOut: 100 }),
          expect.objectContaining({ key: "write", calls: 1 })
        ])
        const byRun = (yield* (yield* get("/api/usage?by=run&range=24h")).json) as Array<Record<string, unknown>>
        expect(byRun.map((u) => u["key"])).toEqual(["run-1", "run-2"])
      }).pipe(Effect.scoped))

    it.effect("bad range, breaker or by parameters get a 400 naming the parameter", () =>
      Effect.gen(function*() {
        for (
          const [path, name] of [
            ["/api/stats?range=2h", "range"],
            ["/api/stats?breaker=", "breaker"],
            ["/api/usage?by=model", "by"],
            ["/api/usage?range=1y", "range"],
            ["/api/usage?limit=0", "limit"]
          ] as const
        ) {
          const res = yield* get(path)
          expect(res.status, path).toBe(400)
          expect(((yield* res.json) as { error: string }).error).toContain(`${name}:`)
        }
        expect((yield* get("/api/usage?by=run&range=7d")).status).toBe(200)
      }).pipe(Effect.scoped))

    it.effect("/api/summary gives since, reason and the call figures per breaker, times in ISO-8601 UTC", () =>
      Effect.gen(function*() {
        const summary = (yield* (yield* get("/api/summary")).json) as Array<Record<string, unknown>>
        const research = summary.find((s) => s["breakerName"] === "checkout")!
        expect(research).toMatchObject({ state: "OPEN", reason: "failure rate 60% >= 50%" })
        expect(research["since"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        for (const key of ["calls", "failures", "failureRate", "rejections"]) {
          expect(typeof research[key]).toBe("number")
        }
        expect(research["fallbacks"]).toBeTypeOf("object")
        const never = summary.find((s) => s["breakerName"] === "quiet")!
        expect(never).toMatchObject({ state: "CLOSED", since: null, reason: null })
        // the same figures without a server
        const snapshot = yield* Dashboard.snapshot
        expect(snapshot.summary.find((b) => b.breakerName === "checkout")?.reason).toBe("failure rate 60% >= 50%")
        expect(snapshot.charts["7d"].times).toHaveLength(168)
        const metrics = yield* (yield* get("/metrics")).text
        expect(metrics).toContain(
          `agentarmour_breaker_state_since_seconds{breaker="checkout"} ${
            Date.parse(research["since"] as string) / 1000
          }\n`
        )
      }).pipe(Effect.scoped))

    it.effect(
      "every SSE client gets the same first snapshot at once, and the ledger's summary is read once per change, not per client",
      () =>
        Effect.gen(function*() {
          const reads = yield* Reads
          yield* until<Array<unknown>>("/api/summary", () => true)
          const before = reads.summary
          const firstEvent = (res: { stream: Stream.Stream<Uint8Array, unknown> }) =>
            res.stream.pipe(
              Stream.decodeText(),
              Stream.mapAccum("", (buffer, text) => {
                const parts = (buffer + text).split("\n\n")
                return [parts.pop()!, parts]
              }),
              Stream.flattenIterables,
              Stream.filter((part) => part.startsWith("event: snapshot")),
              Stream.runHead,
              Effect.timeout("10 seconds")
            )
          const clients = yield* Effect.forEach(Array.from({ length: 20 }), () => get("/events"), {
            concurrency: "unbounded"
          })
          const firsts = yield* Effect.forEach(clients, firstEvent, { concurrency: "unbounded" })
          expect(new Set(firsts.map((f) => f._tag === "Some" ? f.value : "none")).size).toBe(1)
          for (let i = 0; i < 20; i++) yield* get("/api/summary")
          // ten idle ticks of 50 ms: nothing changed, nothing read again (a minute boundary may add one read)
          yield* Effect.sleep("500 millis")
          expect(reads.summary - before).toBeLessThanOrEqual(1)
          // a change is read once for all clients
          yield* call("search", "failure")
          yield* Effect.flatMap(Ledger.Ledger, (l) =>
            l.recordTransition(
              new Ledger.TransitionRecord({
                breakerName: "search",
                fromState: "CLOSED",
                toState: "OPEN",
                reason: "failure rate 50%",
                createdAt: new Date()
              })
            ))
          yield* until<Array<{ breakerName: string; state: string }>>("/api/summary", (s) =>
            s.some((b) => b.breakerName === "search" && b.state === "OPEN"))
          expect(reads.summary - before).toBeLessThanOrEqual(3)
        }).pipe(Effect.scoped),
      30_000
    )
  })
})

describe("Dashboard.app (0.1)", () => {
  it.live("still serves with only a Ledger: its producer starts with the first request", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(Ledger.Ledger, (l) =>
        l.recordTransition(
          new Ledger.TransitionRecord({
            breakerName: "legacy",
            fromState: "CLOSED",
            toState: "OPEN",
            reason: "x",
            createdAt: new Date()
          })
        ))
      const summary = (yield* (yield* get("/api/summary")).json) as Array<{ breakerName: string; state: string }>
      expect(summary).toEqual([expect.objectContaining({ breakerName: "legacy", state: "OPEN" })])
      const again = yield* get("/api/stats?range=24h")
      expect(((yield* again.json) as { times: Array<number> }).times).toHaveLength(96)
    }).pipe(
      Effect.scoped,
      Effect.provide(
        HttpServer.serve(Dashboard.app({ pollInterval: "50 millis" })).pipe(
          Layer.provideMerge(NodeHttpServer.layerTest)
        )
      ),
      Effect.provide(Ledger.layerMemory)
    ))
})

describe("Dashboard.layer", () => {
  it.live(
    "serves the application's own ledger in-process, on 127.0.0.1 by default; /events and /api/summary keep the security headers",
    () =>
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
        yield* ledger.recordTransition(
          new Ledger.TransitionRecord({
            breakerName: "inproc",
            fromState: "CLOSED",
            toState: "OPEN",
            reason: "x",
            createdAt: new Date()
          })
        )
        yield* Layer.launch(Dashboard.layer({ port, pollInterval: "50 millis" })).pipe(Effect.forkScoped)
        let body: Array<{ breakerName: string; state: string }> = []
        for (let i = 0; i < 50 && body.length === 0; i++) {
          yield* Effect.sleep("20 millis")
          body = yield* Effect.promise(() =>
            fetch(`http://127.0.0.1:${port}/api/summary`).then((r) => r.json()).catch(() => [])
          )
        }
        expect(body).toEqual([expect.objectContaining({ breakerName: "inproc", state: "OPEN" })])
        const summary = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/api/summary`))
        expect(summary.headers.get("content-security-policy")).toContain("default-src 'none'")
        expect(summary.headers.get("content-type")).toBe("application/json")
        // an SSE client gets the current snapshot at once, then a new one when the ledger changes
        const controller = new AbortController()
        const events = yield* Effect.promise(() =>
          fetch(`http://127.0.0.1:${port}/events`, { signal: controller.signal })
        )
        expect(events.headers.get("content-type")).toBe("text/event-stream")
        expect(events.headers.get("x-frame-options")).toBe("DENY")
        const reader = events.body!.getReader()
        const decoder = new TextDecoder()
        let text = ""
        const readUntil = (needle: string) =>
          Effect.promise(async () => {
            while (!text.includes(needle)) text += decoder.decode((await reader.read()).value)
          }).pipe(Effect.timeout("10 seconds"))
        yield* readUntil("\"inproc\"")
        expect(text).toMatch(/^event: snapshot\ndata: \{/)
        yield* ledger.recordTransition(
          new Ledger.TransitionRecord({
            breakerName: "inproc",
            fromState: "OPEN",
            toState: "HALF_OPEN",
            reason: "recovery timeout",
            createdAt: new Date()
          })
        )
        yield* readUntil("recovery timeout")
        controller.abort()
        // other routes still go through the app
        const missing = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/nope`))
        expect(missing.status).toBe(404)
      }).pipe(Effect.scoped, Effect.provide(Ledger.layerMemory)),
    30_000
  )
})

describe("Dashboard.layer and the app's router", () => {
  /** status, headers (but the date and the connection's own) and the first bytes of a route */
  const answer = (port: number, path: string) =>
    Effect.promise(async () => {
      const controller = new AbortController()
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: controller.signal })
      const reader = res.body!.getReader()
      const first = new TextDecoder().decode((await reader.read()).value)
      controller.abort()
      const headers: Array<string> = []
      res.headers.forEach((value, key) => {
        if (key !== "date" && key !== "keep-alive") headers.push(`${key}: ${value}`)
      })
      headers.sort()
      return { status: res.status, headers, first: first.replace(/"generatedAt":"[^"]*"/, "") }
    })

  const portOf = (context: Context.Context<HttpServer.HttpServer>) => {
    const address = Context.get(context, HttpServer.HttpServer).address
    return address._tag === "TcpAddress" ? address.port : 0
  }

  it.live(
    "Dashboard.layer answers /api/summary and /events exactly as Dashboard.make's router does (status, headers, body)",
    () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        yield* ledger.recordTransition(
          new Ledger.TransitionRecord({
            breakerName: "same",
            fromState: "CLOSED",
            toState: "OPEN",
            reason: "one implementation",
            createdAt: new Date()
          })
        )
        const viaLayer = portOf(yield* Layer.build(Dashboard.layer({ port: 0, pollInterval: "1 minute" })))
        const app = yield* Dashboard.make({ pollInterval: "1 minute" })
        const viaApp = portOf(
          yield* Layer.build(
            HttpServer.serve(app).pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0 })))
          )
        )
        for (const path of ["/api/summary", "/events", "/api/summary?x=1"]) {
          const [fromLayer, fromApp] = [yield* answer(viaLayer, path), yield* answer(viaApp, path)]
          expect(fromLayer, path).toEqual(fromApp)
          expect(fromLayer.first, path).toContain("one implementation")
        }
      }).pipe(Effect.scoped, Effect.provide(Ledger.layerMemory)),
    30_000
  )
})

describe("Dashboard shutdown", () => {
  it.live(
    "closing Dashboard.layer's scope with an open /events client returns, and the client's stream ends",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          Dashboard.layer({ port: 0, pollInterval: "50 millis" }).pipe(Layer.provide(Ledger.layerMemory)),
          scope
        )
        const address = Context.get(context, HttpServer.HttpServer).address
        const port = address._tag === "TcpAddress" ? address.port : 0
        const events = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/events`))
        const reader = events.body!.getReader()
        const first = yield* Effect.promise(() => reader.read())
        expect(new TextDecoder().decode(first.value)).toMatch(/^event: snapshot/)
        // before 0.2.1 this close waited for the client to go away: forever for curl -N
        yield* Scope.close(scope, Exit.void)
        const rest = yield* Effect.promise(async () => {
          for (;;) if ((await reader.read()).done) return "ended"
        })
        expect(rest).toBe("ended")
      }),
    60_000
  )

  it.live(
    "closing the scope of Dashboard.make ends its /events streams on the user's own server",
    () =>
      Effect.gen(function*() {
        const outer = yield* Scope.make()
        const appScope = yield* Scope.make()
        const app = yield* Dashboard.make({ pollInterval: "50 millis" }).pipe(
          Scope.extend(appScope),
          Effect.provide(Ledger.layerMemory)
        )
        const context = yield* Layer.buildWithScope(
          HttpServer.serve(app).pipe(
            Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0 })),
            Layer.provide(Ledger.layerMemory)
          ),
          outer
        )
        const address = Context.get(context, HttpServer.HttpServer).address
        const port = address._tag === "TcpAddress" ? address.port : 0
        const events = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/events`))
        const reader = events.body!.getReader()
        yield* Effect.promise(() => reader.read())
        yield* Scope.close(appScope, Exit.void)
        const rest = yield* Effect.promise(async () => {
          for (;;) if ((await reader.read()).done) return "ended"
        })
        expect(rest).toBe("ended")
        yield* Scope.close(outer, Exit.void)
      }),
    60_000
  )
})

describe("Dashboard options", () => {
  const cases: ReadonlyArray<[unknown, string]> = [
    [-1, "must be a non-negative duration, got -1"],
    [NaN, "must be a non-negative duration, got NaN"],
    [Infinity, "must be a finite duration, got Infinity"],
    ["often", `must be a duration such as "30 seconds" or a number of milliseconds, got "often"`]
  ]

  it.scoped("make and layer fail with a ParseError naming a negative, NaN, infinite or unparsable pollInterval", () =>
    Effect.gen(function*() {
      for (const [pollInterval, problem] of cases) {
        const viaMake = yield* Effect.flip(Dashboard.make({ pollInterval: pollInterval as any }))
        expect([viaMake._tag, viaMake.message]).toEqual(["ParseError", `Dashboard.make: pollInterval ${problem}`])
        const viaLayer = yield* Effect.flip(
          Layer.build(Dashboard.layer({ port: 0, pollInterval: pollInterval as any })).pipe(Effect.scoped)
        )
        expect([viaLayer._tag, viaLayer.message]).toEqual(["ParseError", `Dashboard.layer: pollInterval ${problem}`])
      }
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("the 0.1 app dies on each request with a ParseError naming a bad pollInterval", () =>
    Effect.gen(function*() {
      const app = Dashboard.app({ pollInterval: -1 })
      for (let i = 0; i < 2; i++) {
        const exit = yield* Effect.exit(app)
        const defect = exit._tag === "Failure" ? Cause.dieOption(exit.cause) : Option.none()
        expect(Option.map(defect, (d) => [(d as Error).name, (d as Error).message])).toEqual(
          Option.some(["ParseError", "Dashboard.app: pollInterval must be a non-negative duration, got -1"])
        )
      }
    }).pipe(
      Effect.provideService(HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(new Request("http://x/"))),
      Effect.provide(Ledger.layerMemory)
    ))

  it.live("serve (the CLI's) fails with a DashboardError whose one line names the bad pollInterval", () =>
    Effect.gen(function*() {
      const db = join(tempTestDir("agentarmour-dash-opts-"), "ledger.db")
      yield* Layer.build(SqliteLedger.layer({ filename: db })).pipe(Effect.scoped)
      const error = yield* Effect.flip(Dashboard.serve({ db, port: 0, pollInterval: "-5 seconds" }))
      expect([error._tag, error.message]).toEqual([
        "DashboardError",
        `Dashboard.layer: pollInterval must be a non-negative duration, got "-5 seconds"`
      ])
    }))
})
