/**
 * The `agentarmour` command line, built with `@effect/cli`. Heavy modules
 * (the SQLite driver, the dashboard, the demo) are loaded only by the
 * commands that need them, so `--help` stays fast.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Doc from "@effect/printer/Doc"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { createRequire } from "node:module"
import * as Ledger from "../Ledger.js"

/** the package version, read from package.json */
export const version: string = (() => {
  const require = createRequire(import.meta.url)
  // from src/cli (sources) or dist/src/cli (built)
  for (const path of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = require(path) as { name?: string; version?: string }
      if (pkg.name === "agentarmour" && pkg.version !== undefined) return pkg.version
    } catch {
      // try the next location
    }
  }
  return "0.0.0"
})()

/**
 * A failure the CLI reports as one line on stderr, with exit code 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliError extends Schema.TaggedError<CliError>()("CliError", { message: Schema.String }) {}

const db = Options.text("db").pipe(
  Options.withDescription("the ledger database file"),
  Options.withDefault("cascadebreaker.db")
)
const tablePrefix = Options.text("table-prefix").pipe(
  Options.withDescription("prefix of the ledger's tables"),
  Options.withDefault("cb_")
)
const json = Options.boolean("json").pipe(Options.withDescription("print JSON instead of a table"))
const breaker = Options.text("breaker").pipe(Options.withDescription("only this breaker"), Options.optional)
const limit = Options.integer("limit").pipe(
  Options.withDescription("how many rows, newest first"),
  Options.withDefault(20)
)

const checkLimit = (n: number) =>
  n >= 1 && n <= 100_000
    ? Effect.succeed(n)
    : Effect.fail(new CliError({ message: `--limit must be between 1 and 100000, got ${n}` }))

/** runs `use` with a read-only ledger over `--db` */
const withLedger = <A, E>(
  options: { readonly db: string; readonly tablePrefix: string },
  use: (ledger: Ledger.Ledger) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const { SqliteLedger } = yield* Effect.promise(() => import("../sqlite/index.js"))
    return yield* Effect.flatMap(Ledger.Ledger, use).pipe(
      Effect.provide(SqliteLedger.layerReadonly({ filename: options.db, tablePrefix: options.tablePrefix }))
    )
  }).pipe(Effect.mapError((e) => (e instanceof Ledger.LedgerError ? new CliError({ message: e.message }) : e)))

const oneLine = (s: string, max: number) => {
  const flat = s.replace(/\s+/g, " ").trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/** an aligned table, laid out by @effect/printer */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    Doc.hsep(cells.map((c, i) => (i === cells.length - 1 ? Doc.text(c) : Doc.fill(Doc.text(c), widths[i]!))))
  const rule = widths.map((w) => "-".repeat(w))
  return Doc.render(Doc.vsep([line(header), line(rule), ...rows.map(line)]), {
    style: "pretty",
    options: { lineWidth: 10_000 }
  })
}

const iso = (d: Date | null) => (d === null ? "-" : d.toISOString().replace(".000Z", "Z"))
const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/** worst first, as on the dashboard: the breakers that are down lead */
const STATE_RANK: Record<Ledger.BreakerState, number> = { OPEN: 0, HALF_OPEN: 1, ISOLATED: 2, DISABLED: 3, CLOSED: 4 }
const percent = (s: Ledger.BreakerSummary) => (s.calls === 0 ? "-" : `${(s.failureRate * 100).toFixed(1)}%`)
const byStrategy = (f: Readonly<Record<string, number>>) =>
  Object.keys(f).sort().map((k) => `${k} ${f[k]}`).join(", ") || "-"

const summary = Command.make("summary", { db, tablePrefix, json }, (o) =>
  withLedger(o, (ledger) =>
    Effect.flatMap(ledger.summary, (rows) =>
      o.json
        ? printJson(rows)
        : rows.length === 0
        ? Console.log("the ledger is empty: no breaker has recorded anything yet")
        : Console.log(table(
          [
            "BREAKER",
            "STATE",
            "SINCE (UTC)",
            "CALLS 24H",
            "FAILURE RATE",
            "REJECTIONS",
            "FALLBACKS 24H",
            "FAILURES",
            "LAST FAILURE",
            "REASON"
          ],
          [...rows]
            .sort((a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || (a.breakerName < b.breakerName ? -1 : 1))
            .map((s) => [
              s.breakerName,
              s.state,
              iso(s.since),
              String(s.calls),
              percent(s),
              String(s.rejections),
              byStrategy(s.fallbacks),
              String(s.failuresTotal),
              iso(s.lastFailureAt),
              s.reason === null ? "-" : oneLine(s.reason, 80)
            ])
        ))))).pipe(
    Command.withDescription(
      "per breaker: state, since when and why, calls, failure rate, rejections and fallbacks over the last 24 h (times UTC)"
    )
  )

/** a `ledger <name>` command listing records newest first, as a table or JSON */
const listCommand = <Name extends string, A>(
  name: Name,
  description: string,
  read: (ledger: Ledger.Ledger, query: Ledger.Query) => Effect.Effect<ReadonlyArray<A>, Ledger.LedgerError>,
  header: ReadonlyArray<string>,
  toRow: (a: A) => ReadonlyArray<string>
) =>
  Command.make(name, { db, tablePrefix, json, breaker, limit }, (o) =>
    Effect.flatMap(checkLimit(o.limit), (n) =>
      withLedger(o, (ledger) =>
        Effect.flatMap(read(ledger, { breaker: Option.getOrUndefined(o.breaker), limit: n }), (rows) =>
          o.json
            ? printJson(rows)
            : rows.length === 0
            ? Console.log(`no ${name} recorded`)
            : Console.log(table(header, rows.map(toRow))))))).pipe(Command.withDescription(description))

const failures = listCommand(
  "failures",
  "recent failures, newest first",
  (l, q) => l.failures(q),
  ["TIME", "BREAKER", "CATEGORY", "TYPE", "MESSAGE"],
  (f) => [iso(f.createdAt), f.breakerName, f.category, f.errorType, oneLine(f.errorMessage, 100)]
)

const transitions = listCommand(
  "transitions",
  "recent state transitions, newest first",
  (l, q) => l.transitions(q),
  ["TIME", "BREAKER", "FROM", "TO", "REASON"],
  (t) => [iso(t.createdAt), t.breakerName, t.fromState, t.toState, oneLine(t.reason, 100)]
)

// --- ledger prune / ledger usage (issue 11) ---
const olderThan = Options.text("older-than").pipe(
  Options.withDescription("remove records older than this: 30d, 12h, 90m or a duration such as \"30 days\"")
)

const prune = Command.make("prune", { db, tablePrefix, olderThan }, (o) =>
  Effect.gen(function*() {
    if (Option.isNone(Ledger.parseAge(o.olderThan))) {
      return yield* new CliError({ message: `--older-than must be a duration such as 30d, 12h or 90m, got "${o.olderThan}"` })
    }
    const { SqliteLedger } = yield* Effect.promise(() => import("../sqlite/index.js"))
    const removed = yield* SqliteLedger.prune({ filename: o.db, tablePrefix: o.tablePrefix, olderThan: o.olderThan }).pipe(
      Effect.mapError((e) => new CliError({ message: e.message }))
    )
    yield* Console.log(`removed ${removed} rows older than ${o.olderThan} (each breaker's latest transition is kept)`)
  })).pipe(Command.withDescription("delete ledger records older than a duration"))

const usageBy = Options.choice("by", ["node", "run"]).pipe(
  Options.withDescription("add up spend per node or per run"),
  Options.withDefault("node" as const)
)

const usage = Command.make("usage", { db, tablePrefix, json, by: usageBy }, (o) =>
  withLedger(o, (ledger) =>
    Effect.flatMap(ledger.usage({ by: o.by, limit: 1000 }), (rows) =>
      o.json
        ? printJson(rows)
        : rows.length === 0
        ? Console.log("no usage recorded")
        : Console.log(table(
          [o.by === "run" ? "RUN" : "NODE", "CALLS", "TOKENS IN", "TOKENS OUT", "COST USD"],
          rows.map((u) => [u.key, String(u.calls), String(u.tokensIn), String(u.tokensOut), u.costUsd.toFixed(4)])
        ))))).pipe(Command.withDescription("tokens and cost spent per node or per run"))

const ledger = Command.make("ledger").pipe(
  Command.withDescription("inspect the audit ledger"),
  Command.withSubcommands([summary, failures, transitions, prune, usage])
)

const port = Options.integer("port").pipe(Options.withDescription("port to listen on"), Options.withDefault(8765))
const host = Options.text("host").pipe(
  Options.withDescription("interface to bind (127.0.0.1 keeps it local)"),
  Options.withDefault("127.0.0.1")
)

const dashboard = Command.make("dashboard", { db, tablePrefix, port, host }, (o) =>
  Effect.gen(function*() {
    if (o.port < 0 || o.port > 65535) return yield* new CliError({ message: `--port must be between 0 and 65535, got ${o.port}` })
    const mod = yield* Effect.tryPromise({
      try: () => import("../dashboard/index.js") as Promise<Record<string, any>>,
      catch: () => new CliError({ message: "the dashboard is not available in this build" })
    })
    const Dashboard = mod["Dashboard"]
    if (Dashboard?.serve === undefined) return yield* new CliError({ message: "the dashboard is not available in this build" })
    yield* (Dashboard.serve({ db: o.db, tablePrefix: o.tablePrefix, port: o.port, host: o.host }) as Effect.Effect<void, { message: string }>)
      .pipe(Effect.mapError((e) => new CliError({ message: e.message })))
  })).pipe(Command.withDescription("serve the live dashboard over the ledger"))

const demo = Command.make("demo", { db }, (o) =>
  Effect.gen(function*() {
    const mod = yield* Effect.tryPromise({
      // the demo is examples/langgraph_pipeline.ts (compiled next to src/ in dist/)
      try: () => import("../../examples/langgraph_pipeline.js") as Promise<Record<string, any>>,
      catch: () => new CliError({ message: "the demo is not available in this build" })
    })
    if (typeof mod["runDemo"] !== "function") return yield* new CliError({ message: "the demo is not available in this build" })
    yield* Effect.tryPromise({
      try: () => mod["runDemo"]({ filename: o.db }) as Promise<unknown>,
      catch: (e) => new CliError({ message: `the demo failed: ${e instanceof Error ? e.message : String(e)}` })
    })
  })).pipe(Command.withDescription("run the faulty multi-agent LangGraph pipeline demo"))

const root = Command.make("agentarmour").pipe(
  Command.withDescription("circuit breakers, fallbacks and an audit ledger for LangGraph agents"),
  Command.withSubcommands([ledger, dashboard, demo])
)

/**
 * Parses `argv` (as `process.argv`) and runs the command.
 *
 * @since 0.1.0
 */
export const run = Command.run(root, { name: "agentarmour", version })

