import { join } from "node:path"

import { HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, layer } from "@effect/vitest"
import { CascadeGuard, Ledger, ToolGuard } from "agentarmour"
import { Dashboard } from "agentarmour/dashboard"
import { SqliteLedger } from "agentarmour/sqlite"
import { Effect, Layer, Schema, Stream } from "effect"

import { tempDir as tempTestDir } from "./support/tmp.js"

const filename = join(tempTestDir("agentarmour-dash-tools-"), "ledger.db")

/** the dashboard on a test server (port 0) over a real SQLite ledger */
const TestServer = Layer.unwrapScoped(
  Effect.map(Dashboard.make({ pollInterval: "50 millis" }), (app) => HttpServer.serve(app))
).pipe(
  Layer.provideMerge(SqliteLedger.layer({ filename })),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

const get = (path: string) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => client.execute(HttpClientRequest.get(path)))

type Row = {
  tool: string
  calls: number
  ran: number
  refused: number
  failed: number
  outcomes: Array<{ outcome: string; kind: string; count: number }>
  lastAt: string
  lastRefusal: { outcome: string; detail: string | null; createdAt: string } | null
}

/** polls `/api/tools` until `ok` holds (the producer publishes on its next tick) */
const until = (path: string, ok: (rows: Array<Row>) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400; i++) {
      const rows = (yield* (yield* get(path)).json) as Array<Row>
      if (ok(rows)) return rows
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.dieMessage(`${path} never satisfied the condition`)
  }).pipe(Effect.scoped)

/** a model's turn through a real ToolGuard: two good searches, a repaired one, a typo, a loop, a denied delete */
const modelTurn = Effect.gen(function*() {
  const guard = yield* ToolGuard.make({
    name: "agent-tools",
    tools: {
      search: { args: Schema.Struct({ query: Schema.String }) },
      remove: { args: Schema.Struct({ path: Schema.String }), permission: "deny" }
    },
    repeats: { max: 2 }
  })
  const exec = (args: unknown) => Effect.succeed(args)
  yield* guard.run({ id: "c1", name: "search", args: { query: "breakers" } }, exec)
  yield* guard.run({ id: "c2", name: "search", args: "{query: 'fallbacks',}" }, exec)
  yield* Effect.either(guard.run({ id: "c3", name: "serch", args: { query: "x" } }, exec))
  yield* guard.run({ id: "c4", name: "search", args: { query: "loop" } }, exec)
  yield* guard.run({ id: "c5", name: "search", args: { query: "loop" } }, exec)
  yield* Effect.either(guard.run({ id: "c6", name: "search", args: { query: "loop" } }, exec))
  yield* Effect.either(guard.run({ id: "c7", name: "remove", args: { path: "/" } }, exec))
  yield* Effect.flatMap(Ledger.Ledger, (l) => l.flush)
}).pipe(CascadeGuard.withRun("run-tools"))

const counts = (row: Row | undefined) => Object.fromEntries((row?.outcomes ?? []).map((o) => [o.outcome, o.count]))

describe("Dashboard tool calls", () => {
  layer(TestServer, { timeout: 30_000, excludeTestServices: true })((it) => {
    it.effect("/api/tools adds up ToolGuard's decisions per tool and outcome, tools with refusals first, refusals marked", () =>
      Effect.gen(function*() {
        yield* modelTurn
        const rows = yield* until("/api/tools", (r) => r.some((t) => t.tool === "remove"))
        // remove (1 refusal), search (1 refusal: the loop), serch (1 refusal: unknown), by refusals then name
        expect(rows.map((t) => t.tool)).toEqual(["remove", "search", "serch"])
        const search = rows.find((t) => t.tool === "search")
        expect(counts(search)).toEqual({ ok: 3, repaired: 1, repeated: 1 })
        expect(search).toMatchObject({ calls: 5, ran: 4, refused: 1, failed: 0 })
        // each outcome carries its kind; refusals come first
        expect(search!.outcomes[0]).toEqual({ outcome: "repeated", kind: "refused", count: 1 })
        expect(search!.outcomes.filter((o) => o.kind === "ran").map((o) => o.outcome)).toEqual(["ok", "repaired"])
        expect(search!.lastRefusal).toMatchObject({ outcome: "repeated" })
        expect(search!.lastRefusal!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        const typo = rows.find((t) => t.tool === "serch")
        expect(counts(typo)).toEqual({ unknown_tool: 1 })
        // what the model read: the valid tools and the nearest name
        expect(typo!.lastRefusal!.detail).toContain("\"search\"")
        expect(rows.find((t) => t.tool === "remove")).toMatchObject({
          calls: 1,
          refused: 1,
          outcomes: [{ outcome: "denied", kind: "refused", count: 1 }]
        })
      }).pipe(Effect.scoped))

    it.effect("?tool= gives one tool's row; a bad tool parameter is a 400 naming it", () =>
      Effect.gen(function*() {
        const rows = yield* until("/api/tools?tool=serch", (r) => r.length === 1)
        expect(rows[0]!.tool).toBe("serch")
        expect(yield* (yield* get("/api/tools?tool=nothing-by-that-name")).json).toEqual([])
        const bad = yield* get("/api/tools?tool=")
        expect(bad.status).toBe(400)
        expect(((yield* bad.json) as { error: string }).error).toContain("tool:")
      }).pipe(Effect.scoped))

    it.effect("decisions older than 24 hours are left out; a tool that failed counts as failed, not refused", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const decision = (tool: string, outcome: Ledger.ToolCallOutcome, ago: number) =>
          ledger.recordToolCall(
            new Ledger.ToolCallRecord({
              runId: "run-old",
              node: "agent-tools",
              tool,
              callId: null,
              outcome,
              detail: outcome === "ok" ? null : `${outcome} detail`,
              createdAt: new Date(Date.now() - ago)
            })
          )
        yield* decision("fetch", "invalid_args", 25 * 3600_000)
        yield* decision("fetch", "failed", 60_000)
        yield* decision("fetch", "open", 0)
        yield* ledger.flush
        const [fetch] = yield* until("/api/tools?tool=fetch", (r) => r[0]?.calls === 2)
        expect(fetch).toMatchObject({ calls: 2, ran: 0, refused: 0, failed: 2, lastRefusal: null })
        expect(fetch!.outcomes.every((o) => o.kind === "failed")).toBe(true)
      }).pipe(Effect.scoped))

    it.scoped("a new refusal reaches /events in the next snapshot, without a reload", () =>
      Effect.gen(function*() {
        const res = yield* get("/events")
        const ledger = yield* Ledger.Ledger
        let sent = false
        const found = yield* res.stream.pipe(
          Stream.decodeText(),
          Stream.mapAccum("", (buffer, text) => {
            const parts = (buffer + text).split("\n\n")
            return [parts.pop()!, parts]
          }),
          Stream.flattenIterables,
          Stream.filter((part) => part.startsWith("event: snapshot")),
          Stream.tap(() =>
            sent ? Effect.void : Effect.zipRight(
              Effect.sync(() => (sent = true)),
              Effect.zipRight(
                ledger.recordToolCall(
                  new Ledger.ToolCallRecord({
                    runId: "run-live",
                    node: "agent-tools",
                    tool: "live_tool",
                    callId: "c9",
                    outcome: "malformed",
                    detail: "the arguments are not JSON",
                    createdAt: new Date()
                  })
                ),
                ledger.flush
              )
            )
          ),
          Stream.map((part) => JSON.parse(part.slice(part.indexOf("data: ") + 6)) as { tools: Array<Row> }),
          Stream.filter((snapshot) => snapshot.tools.some((t) => t.tool === "live_tool")),
          Stream.runHead,
          Effect.timeout("10 seconds")
        )
        expect(found._tag).toBe("Some")
        const live = found._tag === "Some" ? found.value.tools.find((t) => t.tool === "live_tool") : undefined
        expect(live).toMatchObject({ refused: 1, outcomes: [{ outcome: "malformed", kind: "refused", count: 1 }] })
        // the same figures without a server
        const snapshot = yield* Dashboard.snapshot
        expect(snapshot.tools.find((t) => t.tool === "live_tool")?.refused).toBe(1)
      }), 20_000)
  })
})
