/**
 * The live dashboard over the ledger, served by `@effect/platform`.
 *
 * Routes: `/` (page), `/api/summary`, `/api/stats?range=&breaker=`,
 * `/api/usage?by=&range=`, `/api/tools?tool=`, `/api/failures?breaker=&limit=`,
 * `/api/transitions?breaker=&limit=` (JSON, newest first), `/events`
 * (Server-Sent Events: the shared snapshot whenever the ledger changes),
 * `/metrics` (Prometheus text), `/assets/*` (shipped with the package, no CDN).
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { PassThrough } from "node:stream"

import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"

import * as duration from "../internal/duration.js"
import * as Ledger from "../Ledger.js"
import * as Telemetry from "../Telemetry.js"
import * as assets from "./assets.js"
import * as Node from "./internal/nodeServer.js"
import * as Prometheus from "./internal/prometheus.js"
import * as Producer from "./internal/snapshot.js"
import type * as Tools from "./internal/tools.js"

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

const require = createRequire(import.meta.url)
let uplotAssets: { readonly js: string; readonly css: string } | undefined
const uplot = () => (uplotAssets ??= {
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
        ParseResult.ArrayFormatter.formatErrorSync(e).slice(0, 1).map((i) => `${i.path.join(".")}: ${i.message}`).join(
          ""
        )
      }`
    },
    { status: 400 }
  )
const serverError = (e: Ledger.LedgerError) => HttpServerResponse.unsafeJson({ error: e.message }, { status: 500 })

const list = <A>(read: (q: Ledger.Query) => Effect.Effect<ReadonlyArray<A>, Ledger.LedgerError>) =>
  HttpServerRequest.schemaSearchParams(ListQuery).pipe(
    Effect.flatMap((q) => read({ breaker: q.breaker, limit: q.limit ?? 50 })),
    Effect.map((rows) => HttpServerResponse.unsafeJson(rows)),
    Effect.catchTags({
      ParseError: (e) => Effect.succeed(badRequest(e)),
      LedgerError: (e) => Effect.succeed(serverError(e))
    })
  )

/**
 * What the page shows, pushed on `/events`.
 *
 * @since 0.1.0
 * @category models
 */
export type Snapshot = Producer.Snapshot

/**
 * Reads one snapshot of the ledger, as `/events` publishes it (for a
 * server, `make` or `layer` share one producer between every client instead).
 *
 * @since 0.1.0
 * @category constructors
 */
export const snapshot: Effect.Effect<Snapshot, Ledger.LedgerError, Ledger.Ledger> = Effect.scoped(
  Effect.flatMap(
    Producer.make({ pollInterval: Duration.infinity }),
    (producer) =>
      Effect.flatMap(producer.latest, (frame) =>
        frame._tag === "Snapshot"
          ? Effect.succeed(frame.snapshot)
          : Effect.fail(new Ledger.LedgerError({ message: frame.message })))
  )
)

/**
 * One tool's row of the "tool calls" panel and of `/api/tools`: ToolGuard's
 * decisions of the last 24 hours (the newest 2,000 at most) per outcome,
 * each outcome with its kind: the tool `ran` (`ok`, `repaired`, `approved`),
 * ToolGuard `refused` the call or its result (the outcomes of
 * `ToolGuard.outcomeOf`), or the tool `failed` (`failed`, `open`); the three
 * added up, and the newest refusal.
 *
 * @since 0.3.0
 * @category models
 */
export type ToolSummary = Tools.ToolSummary

/**
 * A chart range: `15m`, `1h`, `24h` or `7d`.
 *
 * @since 0.2.0
 * @category models
 */
export type Range = Producer.Range

const RangeParam = Schema.Literal(...Producer.RANGE_NAMES)
const BreakerParam = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))

const StatsQuery = Schema.Struct({
  range: Schema.optionalWith(RangeParam, { default: () => "1h" as const }),
  breaker: Schema.optional(BreakerParam)
})

const UsageQuery = Schema.Struct({
  by: Schema.optionalWith(Schema.Literal("node", "run"), { default: () => "node" as const }),
  range: Schema.optionalWith(RangeParam, { default: () => "24h" as const }),
  limit: Schema.optional(
    Schema.NumberFromString.pipe(
      Schema.int(),
      Schema.between(1, 1000, { message: () => "limit must be an integer between 1 and 1000" })
    )
  )
})

const ToolsQuery = Schema.Struct({
  tool: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)))
})

const json = (body: string) => HttpServerResponse.text(body, { contentType: "application/json" })

const frameError = (message: string) => HttpServerResponse.unsafeJson({ error: message }, { status: 500 })

/** `/api/summary`: the summary of the newest frame, encoded once by the producer */
const summaryResponse = (frame: Producer.Frame) =>
  frame._tag === "Snapshot" ? json(frame.summaryJson) : frameError(frame.message)

/** `/events`: a stream fed by the producer (the newest frame's event at once, then every new one) */
const eventsResponse = (producer: Producer.Producer) => () => {
  const body = new PassThrough()
  Node.subscribe(producer, body)
  // a new frame comes at least once a minute (the charts move on), which keeps idle connections alive
  return HttpServerResponse.raw(body, { headers: Node.SSE_HEADERS })
}

/**
 * The routes every open page hits, answered from the newest frame alone. The
 * router serves them; `Dashboard.layer`'s Node server calls the same
 * functions before the router, without an Effect per request.
 */
const liveRoutes = (producer: Producer.Producer): Node.LiveRoutes =>
  new Map([
    ["/api/summary", summaryResponse],
    ["/events", eventsResponse(producer)]
  ])

const statsRoute = (producer: Producer.Producer) =>
  HttpServerRequest.schemaSearchParams(StatsQuery).pipe(
    Effect.flatMap((q) =>
      Effect.map(producer.latest, (frame) => {
        if (frame._tag === "Error") return frameError(frame.message)
        const chart = frame.snapshot.charts[q.range]
        return HttpServerResponse.unsafeJson(
          q.breaker === undefined ? chart : { ...chart, series: chart.series.filter((s) => s.breaker === q.breaker) }
        )
      })
    ),
    Effect.catchTag("ParseError", (e) => Effect.succeed(badRequest(e)))
  )

/** the snapshot's tool figures, one tool's with `?tool=` */
const toolsRoute = (producer: Producer.Producer) =>
  HttpServerRequest.schemaSearchParams(ToolsQuery).pipe(
    Effect.flatMap((q) =>
      Effect.map(producer.latest, (frame) => {
        if (frame._tag === "Error") return frameError(frame.message)
        const tools = frame.snapshot.tools
        return HttpServerResponse.unsafeJson(q.tool === undefined ? tools : tools.filter((t) => t.tool === q.tool))
      })
    ),
    Effect.catchTag("ParseError", (e) => Effect.succeed(badRequest(e)))
  )

const usageRoute = HttpServerRequest.schemaSearchParams(UsageQuery).pipe(
  Effect.flatMap((q) =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const now = yield* Clock.currentTimeMillis
      const since = new Date(now - Producer.RANGES[q.range].millis)
      return HttpServerResponse.unsafeJson(yield* ledger.usage({ by: q.by, since, limit: q.limit ?? 50 }))
    })
  ),
  Effect.catchTags({
    ParseError: (e) => Effect.succeed(badRequest(e)),
    LedgerError: (e) => Effect.succeed(serverError(e))
  })
)

/**
 * The values of `agentarmour_breaker_state`: a state is a value, never a
 * label, so a breaker's series keeps its identity across transitions.
 *
 * @since 0.2.0
 * @category constants
 */
export const STATE_VALUE: { readonly [S in Ledger.BreakerState]: number } = Telemetry.stateValue

/** the families computed from the ledger's summary; their names win over a same-named live metric */
const ledgerFamilies = (summary: ReadonlyArray<Ledger.BreakerSummary>): ReadonlyArray<Prometheus.Family> => {
  const per = (value: (s: Ledger.BreakerSummary) => number | null) =>
    summary.flatMap((s) => {
      const v = value(s)
      return v === null ? [] : [{ labels: [["breaker", s.breakerName] as const], value: v }]
    })
  return [
    {
      name: "agentarmour_breaker_state",
      help: "state per breaker from the ledger: 0 CLOSED, 1 OPEN, 2 HALF_OPEN, 3 ISOLATED, 4 DISABLED",
      type: "gauge",
      samples: per((s) => STATE_VALUE[s.state])
    },
    {
      name: "agentarmour_breaker_state_since_seconds",
      help: "when the breaker entered its current state (Unix time)",
      type: "gauge",
      samples: per((s) => (s.since === null ? null : s.since.getTime() / 1000))
    },
    {
      name: "agentarmour_failures_total",
      help: "failures recorded in the ledger",
      type: "counter",
      samples: per((s) => s.failuresTotal)
    },
    {
      name: "agentarmour_transitions_total",
      help: "state transitions recorded in the ledger",
      type: "counter",
      samples: per((s) => s.transitions)
    },
    {
      name: "agentarmour_fallbacks_served_total",
      help: "answers given by a fallback, recorded in the ledger",
      type: "counter",
      samples: per((s) => s.fallbacksServed)
    },
    {
      name: "agentarmour_ledger_calls_24h",
      help: "calls that ran through the breaker in the last 24 hours (ledger call statistics)",
      type: "gauge",
      samples: per((s) => s.calls)
    },
    {
      name: "agentarmour_ledger_failure_rate_24h",
      help: "failed calls / calls in the last 24 hours (0..1)",
      type: "gauge",
      samples: per((s) => s.failureRate)
    },
    {
      name: "agentarmour_ledger_rejections_24h",
      help: "calls refused without running in the last 24 hours",
      type: "gauge",
      samples: per((s) => s.rejections)
    },
    {
      name: "agentarmour_ledger_fallbacks_24h",
      help: "fallbacks served in the last 24 hours, by strategy",
      type: "gauge",
      samples: summary.flatMap((s) =>
        Object.entries(s.fallbacks).map(([strategy, n]) => ({
          labels: [["breaker", s.breakerName] as const, ["strategy", strategy] as const],
          value: n
        }))
      )
    }
  ]
}

/**
 * The Prometheus exposition of a summary plus this process's own
 * `agentarmour_*` Effect metrics (`Metric.snapshot`); a live metric named
 * like a ledger family is left out (the ledger sees every process).
 *
 * @since 0.2.0
 * @category encoding
 */
export const exposition = (summary: ReadonlyArray<Ledger.BreakerSummary>): Effect.Effect<string> =>
  Effect.map(Metric.snapshot, (pairs) => {
    const fromLedger = ledgerFamilies(summary)
    const taken = new Set(fromLedger.map((f) => f.name))
    const live = Prometheus.fromEffectMetrics(pairs.filter((p) => p.metricKey.name.startsWith("agentarmour_")))
      .filter((f) => !taken.has(f.name))
    return Prometheus.encode([...fromLedger, ...live])
  })

/**
 * The Prometheus exposition of the ledger (read now) and of this process's
 * `agentarmour_*` Effect metrics.
 *
 * @since 0.1.0
 * @category constructors
 */
export const prometheus: Effect.Effect<string, Ledger.LedgerError, Ledger.Ledger> = Effect.flatMap(
  Effect.flatMap(Ledger.Ledger, (l) => l.summary),
  exposition
)

const metricsRoute = (producer: Producer.Producer) =>
  Effect.flatMap(producer.latest, (frame) =>
    frame._tag === "Error"
      ? Effect.succeed(frameError(frame.message))
      : Effect.map(
        exposition(frame.snapshot.summary),
        (text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
      ))

/**
 * Options of the HTTP app.
 *
 * @since 0.2.0
 * @category models
 */
export type AppOptions = Pick<Options, "pollInterval">

const router = (producer: Producer.Producer) =>
  HttpRouter.fromIterable(
    Array.from(
      liveRoutes(producer),
      ([path, respond]) => HttpRouter.makeRoute("GET", path, Effect.map(producer.latest, respond))
    )
  ).pipe(
    HttpRouter.get("/", Effect.succeed(HttpServerResponse.html(assets.html))),
    HttpRouter.get("/assets/dashboard.css", asset(() => assets.css, "text/css; charset=utf-8")),
    HttpRouter.get("/assets/dashboard.js", asset(() => assets.js, "text/javascript; charset=utf-8")),
    HttpRouter.get("/assets/uPlot.min.css", asset(() => uplot().css, "text/css; charset=utf-8")),
    HttpRouter.get("/assets/uPlot.iife.min.js", asset(() => uplot().js, "text/javascript; charset=utf-8")),
    HttpRouter.get("/api/stats", statsRoute(producer)),
    HttpRouter.get("/api/usage", usageRoute),
    HttpRouter.get("/api/tools", toolsRoute(producer)),
    HttpRouter.get("/api/failures", Effect.flatMap(Ledger.Ledger, (l) => list(l.failures))),
    HttpRouter.get("/api/transitions", Effect.flatMap(Ledger.Ledger, (l) => list(l.transitions))),
    HttpRouter.get("/metrics", metricsRoute(producer))
  ).pipe(
    Effect.catchTag("RouteNotFound", () =>
      Effect.succeed(HttpServerResponse.unsafeJson({ error: "not found" }, { status: 404 }))),
    Effect.map(Node.secure)
  )

/**
 * The dashboard as an HTTP app over the `Ledger`, with its snapshot producer
 * running in the current scope: one fiber reads the ledger every
 * `pollInterval` (default 1 second) and every client (`/events`,
 * `/api/summary`, `/api/stats`, `/api/tools`, `/metrics`) shares what it read.
 *
 * A `pollInterval` that is negative, NaN, infinite or unparsable fails with a
 * `ParseError` naming the option
 * (`Dashboard.make: pollInterval must be a non-negative duration, got -1`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options?: AppOptions) =>
  Effect.flatMap(makeProducer("Dashboard.make", options), (producer) =>
    Effect.as(
      // closing the scope ends the open /events streams, which would hold the user's server open
      Effect.addFinalizer(() => Effect.sync(() => Node.endClients(producer))),
      router(producer)
    ))

/** a bad `pollInterval` is a `ParseError` naming it and `owner`, the constructor the user called */
const decodePollInterval = (owner: string, options?: AppOptions) =>
  Either.map(
    duration.decodeOptions(owner, { pollInterval: options?.pollInterval ?? "1 second" }),
    ({ pollInterval }) => pollInterval
  )

const makeProducer = (owner: string, options?: AppOptions) =>
  Effect.flatMap(decodePollInterval(owner, options), (pollInterval) => Producer.make({ pollInterval }))

/**
 * The dashboard as an HTTP app over the `Ledger` (0.1's constructor). It has
 * no scope to run the snapshot producer in, so the producer starts with the
 * first request and lives as long as the process; prefer `make` (scoped) or
 * `layer`.
 *
 * A `pollInterval` that is negative, NaN, infinite or unparsable is a
 * programming error: every request dies with a `ParseError` naming the option
 * (`Dashboard.app: pollInterval must be a non-negative duration, got -1`),
 * which the server answers with a 500 and logs. It is a defect, not a typed
 * failure, so that the app keeps its 0.1 type (an app that cannot fail).
 *
 * @since 0.1.0
 * @category constructors
 */
export const app = (options?: AppOptions) => {
  const pollInterval = decodePollInterval("Dashboard.app", options)
  let started: Effect.Effect<ReturnType<typeof router>, never, Ledger.Ledger> | undefined
  const start = Effect.suspend(() =>
    started ??= Effect.cached(
      Effect.flatMap(Scope.make(), (scope) =>
        Effect.orDie(pollInterval).pipe(
          Effect.flatMap((interval) => Producer.make({ pollInterval: interval })),
          Effect.map(router),
          Scope.extend(scope)
        ))
    ).pipe(Effect.runSync)
  )
  return Effect.flatMap(start, (route) => route)
}

/**
 * Serves the dashboard next to a running pipeline (the `Ledger` of your
 * application), on 127.0.0.1:8765 unless told otherwise.
 *
 * A `pollInterval` that is negative, NaN, infinite or unparsable fails the
 * layer with a `ParseError` naming the option
 * (`Dashboard.layer: pollInterval must be a non-negative duration, got -1`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError | ParseResult.ParseError, Ledger.Ledger> =>
  Layer.unwrapScoped(
    Effect.map(makeProducer("Dashboard.layer", options), (producer) =>
      HttpServer.serve(router(producer)).pipe(
        Layer.provideMerge(
          Node.serverLayer(producer, liveRoutes(producer), {
            port: options?.port ?? 8765,
            host: options?.host ?? "127.0.0.1"
          })
        )
      ))
  )

const startError = (e: unknown, host: string, port: number): DashboardError => {
  if (e instanceof Ledger.LedgerError || e instanceof DashboardError || ParseResult.isParseError(e)) {
    return new DashboardError({ message: e.message })
  }
  const cause = (e as { cause?: { code?: string; message?: string } }).cause
  if (cause?.code === "EADDRINUSE") return new DashboardError({ message: `port ${port} is already in use on ${host}` })
  if (cause?.code === "EACCES") return new DashboardError({ message: `not allowed to listen on ${host}:${port}` })
  if (cause?.code === "EADDRNOTAVAIL" || cause?.code === "ENOTFOUND") {
    return new DashboardError({ message: `cannot listen on host ${host}` })
  }
  return new DashboardError({ message: `cannot start the dashboard: ${cause?.message ?? String(e)}` })
}

/**
 * Opens the SQLite ledger `db` read-only and serves the dashboard until
 * interrupted (what `agentarmour dashboard` runs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (
  options: Options & { readonly db?: string | undefined; readonly tablePrefix?: string | undefined }
) => {
  const port = options.port ?? 8765
  const host = options.host ?? "127.0.0.1"
  const db = options.db ?? "cascadebreaker.db"
  return Effect.gen(function*() {
    const { SqliteLedger } = yield* Effect.promise(() => import("../sqlite/index.js"))
    // the app reads its first snapshot before the server says it is ready
    const server = layer({ ...options, port, host }).pipe(
      Layer.provide(SqliteLedger.layerReadonly({ filename: db, tablePrefix: options.tablePrefix }))
    )
    const context = yield* Layer.build(server)
    // the port the server really listens on (`--port 0` picks a free one)
    const address = Context.get(context, HttpServer.HttpServer).address
    const bound = address._tag === "TcpAddress" ? address.port : port
    yield* Console.log(
      `agentarmour dashboard: http://${
        host.includes(":") ? `[${host}]` : host
      }:${bound}  (ledger ${db}, read-only; Ctrl-C to stop)`
    )
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.mapError((e) => startError(e, host, port)))
}
