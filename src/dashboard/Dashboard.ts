/**
 * The live dashboard over the ledger, served by `@effect/platform`.
 *
 * Routes: `/` (page), `/api/summary`, `/api/failures?breaker=&limit=`,
 * `/api/transitions?breaker=&limit=` (JSON, newest first), `/events`
 * (Server-Sent Events: a snapshot whenever the ledger changes), `/metrics`
 * (Prometheus text), `/assets/*` (shipped with the package, no CDN).
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { createRequire } from "node:module"
import { BreakerRegistry } from "../BreakerRegistry.js"
import * as Ledger from "../Ledger.js"
import * as assets from "./assets.js"
import { durationOption } from "../internal/duration.js"

/**
 * The dashboard could not start (no ledger, port in use...).
 *
 * @since 0.1.0
 * @category errors
 */
export class DashboardError extends Schema.TaggedError<DashboardError>()("DashboardError", {
  message: Schema.String
}) {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** default 8765; 0 picks a free port */
  readonly port?: number | undefined
  /** default 127.0.0.1: only this machine can see the dashboard */
  readonly host?: string | undefined
  /** how often the ledger is polled for live updates (default 1 second) */
  readonly pollInterval?: Duration.DurationInput | undefined
}

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
}

const require = createRequire(import.meta.url)
let uplotAssets: { readonly js: string; readonly css: string } | undefined
const uplot = () =>
  (uplotAssets ??= {
    js: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
    css: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8")
  })

const asset = (body: () => string, contentType: string) =>
  Effect.sync(() => HttpServerResponse.text(body(), { contentType, headers: { "cache-control": "no-cache" } }))

/** query parameters of the list endpoints: bad values are a 400 naming the parameter */
const ListQuery = Schema.Struct({
  breaker: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))),
  limit: Schema.optional(
    Schema.NumberFromString.pipe(
      Schema.int(),
      Schema.between(1, 1000, { message: () => "limit must be an integer between 1 and 1000" })
    )
  )
})

const badRequest = (e: ParseResult.ParseError) =>
  HttpServerResponse.unsafeJson(
    {
      error: `bad query parameter: ${
        ParseResult.ArrayFormatter.formatErrorSync(e).slice(0, 1).map((i) => `${i.path.join(".")}: ${i.message}`).join("")
      }`
    },
    { status: 400 }
  )
const serverError = (e: Ledger.LedgerError) => HttpServerResponse.unsafeJson({ error: e.message }, { status: 500 })

const list = <A>(read: (q: Ledger.Query) => Effect.Effect<ReadonlyArray<A>, Ledger.LedgerError>) =>
  HttpServerRequest.schemaSearchParams(ListQuery).pipe(
    Effect.flatMap((q) => read({ breaker: q.breaker, limit: q.limit ?? 50 })),
    Effect.map((rows) => HttpServerResponse.unsafeJson(rows)),
    Effect.catchTags({ ParseError: (e) => Effect.succeed(badRequest(e)), LedgerError: (e) => Effect.succeed(serverError(e)) })
  )

/**
 * What the page shows, pushed on `/events`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly summary: ReadonlyArray<Ledger.BreakerSummary>
  readonly failures: ReadonlyArray<Ledger.FailureRecord>
  readonly transitions: ReadonlyArray<Ledger.TransitionRecord>
  /** failures per minute and breaker over the last hour (from the newest 5,000 failures) */
  readonly timeline: {
    readonly minutes: ReadonlyArray<number>
    readonly series: ReadonlyArray<{ readonly breaker: string; readonly counts: ReadonlyArray<number> }>
  }
}

/**
 * Reads a snapshot of the ledger.
 *
 * @since 0.1.0
 * @category constructors
 */
export const snapshot: Effect.Effect<Snapshot, Ledger.LedgerError, Ledger.Ledger> = Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  const [summary, failures, transitions, recent] = yield* Effect.all([
    ledger.summary,
    ledger.failures({ limit: 50 }),
    ledger.transitions({ limit: 50 }),
    ledger.failures({ limit: 5000 })
  ])
  const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
  const thisMinute = Math.floor(now / 60_000) * 60_000
  const minutes = Array.from({ length: 60 }, (_, i) => (thisMinute - (59 - i) * 60_000) / 1000)
  const counts = new Map<string, Array<number>>()
  for (const f of recent) {
    const index = 59 - Math.floor((thisMinute - Math.floor(f.createdAt.getTime() / 60_000) * 60_000) / 60_000)
    if (index < 0 || index > 59) continue
    let c = counts.get(f.breakerName)
    if (c === undefined) counts.set(f.breakerName, (c = new Array(60).fill(0)))
    c[index]!++
  }
  return {
    summary,
    failures,
    transitions,
    timeline: { minutes, series: Array.from(counts, ([breaker, c]) => ({ breaker, counts: c })) }
  }
})

const encoder = new TextEncoder()

const events = (pollInterval: Duration.Duration) =>
  Effect.map(Effect.context<Ledger.Ledger>(), (context) => {
    let last = ""
    const body = Stream.repeatEffectWithSchedule(
      Effect.either(snapshot).pipe(Effect.provide(context)),
      Schedule.spaced(pollInterval)
    ).pipe(
      Stream.filterMap((result) => {
        const [event, data] = result._tag === "Right"
          ? ["snapshot", JSON.stringify(result.right)]
          : ["ledger-error", JSON.stringify({ error: result.left.message })]
        if (data === last) return Option.none()
        last = data
        return Option.some(encoder.encode(`event: ${event}\ndata: ${data}\n\n`))
      })
    )
    return HttpServerResponse.stream(body, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
    })
  })

const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")
const STATE_VALUE: Record<string, number> = { CLOSED: 0, OPEN: 1, HALF_OPEN: 2, ISOLATED: 3, DISABLED: 4 }

/**
 * The Prometheus exposition of the ledger (and of live breakers when a
 * `BreakerRegistry` is in context).
 *
 * @since 0.1.0
 * @category constructors
 */
export const prometheus: Effect.Effect<string, Ledger.LedgerError, Ledger.Ledger> = Effect.gen(function*() {
  const summary = yield* (yield* Ledger.Ledger).summary
  const lines: Array<string> = []
  const metric = (name: string, help: string, type: string, rows: ReadonlyArray<[string, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of rows) lines.push(`${name}{${labels}} ${value}`)
  }
  const b = (name: string) => `breaker="${label(name)}"`
  metric(
    "agentarmour_breaker_state",
    "current state per breaker from the ledger (0 closed, 1 half-open, 2 open)",
    "gauge",
    summary.map((s) => [`${b(s.breakerName)},state="${s.state}"`, STATE_VALUE[s.state] ?? 0])
  )
  metric("agentarmour_failures_total", "failures recorded", "counter", summary.map((s) => [b(s.breakerName), s.failuresTotal]))
  metric("agentarmour_transitions_total", "state transitions recorded", "counter", summary.map((s) => [b(s.breakerName), s.transitions]))
  metric("agentarmour_fallbacks_served_total", "answers given by a fallback", "counter", summary.map((s) => [b(s.breakerName), s.fallbacksServed]))
  const registry = yield* Effect.serviceOption(BreakerRegistry)
  if (Option.isSome(registry)) {
    const live = Object.values(yield* registry.value.snapshot)
    metric("agentarmour_calls_total", "calls through the breaker (this process)", "counter", live.map((m) => [b(m.breakerName), m.totalCalls]))
    metric("agentarmour_rejections_total", "calls rejected while open (this process)", "counter", live.map((m) => [b(m.breakerName), m.rejections]))
  }
  return lines.join("\n") + "\n"
})

/**
 * The dashboard as an HTTP app over the `Ledger`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const app = (options?: Pick<Options, "pollInterval">) => {
  const pollInterval = durationOption(options?.pollInterval ?? "1 second", "Dashboard: pollInterval")
  const router = HttpRouter.empty.pipe(
    HttpRouter.get("/", Effect.succeed(HttpServerResponse.html(assets.html))),
    HttpRouter.get("/assets/dashboard.css", asset(() => assets.css, "text/css; charset=utf-8")),
    HttpRouter.get("/assets/dashboard.js", asset(() => assets.js, "text/javascript; charset=utf-8")),
    HttpRouter.get("/assets/uPlot.min.css", asset(() => uplot().css, "text/css; charset=utf-8")),
    HttpRouter.get("/assets/uPlot.iife.min.js", asset(() => uplot().js, "text/javascript; charset=utf-8")),
    HttpRouter.get(
      "/api/summary",
      Effect.flatMap(Ledger.Ledger, (l) => l.summary).pipe(
        Effect.map((rows) => HttpServerResponse.unsafeJson(rows)),
        Effect.catchTag("LedgerError", (e) => Effect.succeed(serverError(e)))
      )
    ),
    HttpRouter.get("/api/failures", Effect.flatMap(Ledger.Ledger, (l) => list(l.failures))),
    HttpRouter.get("/api/transitions", Effect.flatMap(Ledger.Ledger, (l) => list(l.transitions))),
    HttpRouter.get("/events", events(pollInterval)),
    HttpRouter.get(
      "/metrics",
      prometheus.pipe(
        Effect.map((text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" })),
        Effect.catchTag("LedgerError", (e) => Effect.succeed(serverError(e)))
      )
    )
  )
  return router.pipe(
    Effect.catchTag("RouteNotFound", () => Effect.succeed(HttpServerResponse.unsafeJson({ error: "not found" }, { status: 404 }))),
    Effect.map(HttpServerResponse.setHeaders(SECURITY_HEADERS))
  )
}

/**
 * Serves the dashboard next to a running pipeline (the `Ledger` of your
 * application), on 127.0.0.1:8765 unless told otherwise.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options) =>
  HttpServer.serve(app(options)).pipe(
    Layer.provide(NodeHttpServer.layer(() => createServer(), { port: options?.port ?? 8765, host: options?.host ?? "127.0.0.1" }))
  )

const startError = (e: unknown, host: string, port: number): DashboardError => {
  if (e instanceof Ledger.LedgerError || e instanceof DashboardError) return new DashboardError({ message: e.message })
  const cause = (e as { cause?: { code?: string; message?: string } }).cause
  if (cause?.code === "EADDRINUSE") return new DashboardError({ message: `port ${port} is already in use on ${host}` })
  if (cause?.code === "EACCES") return new DashboardError({ message: `not allowed to listen on ${host}:${port}` })
  if (cause?.code === "EADDRNOTAVAIL" || cause?.code === "ENOTFOUND") return new DashboardError({ message: `cannot listen on host ${host}` })
  return new DashboardError({ message: `cannot start the dashboard: ${cause?.message ?? String(e)}` })
}

/**
 * Opens the SQLite ledger `db` read-only and serves the dashboard until
 * interrupted (what `agentarmour dashboard` runs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (options: Options & { readonly db?: string | undefined; readonly tablePrefix?: string | undefined }) => {
  const port = options.port ?? 8765
  const host = options.host ?? "127.0.0.1"
  const db = options.db ?? "cascadebreaker.db"
  return Effect.gen(function*() {
    const { SqliteLedger } = yield* Effect.promise(() => import("../sqlite/index.js"))
    const server = HttpServer.serve(app(options)).pipe(
      Layer.provideMerge(NodeHttpServer.layer(() => createServer(), { port, host })),
      Layer.provide(SqliteLedger.layerReadonly({ filename: db, tablePrefix: options.tablePrefix }))
    )
    const context = yield* Layer.build(server)
    // the port the server really listens on (`--port 0` picks a free one)
    const address = Context.get(context, HttpServer.HttpServer).address
    const bound = address._tag === "TcpAddress" ? address.port : port
    yield* Console.log(`agentarmour dashboard: http://${host.includes(":") ? `[${host}]` : host}:${bound}  (ledger ${db}, read-only; Ctrl-C to stop)`)
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.mapError((e) => startError(e, host, port)))
}
