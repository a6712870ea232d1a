/**
 * The `agentarmour` command line, built with `@effect/cli`. Heavy modules
 * (the SQLite driver, the dashboard, the demo) are loaded only by the
 * commands that need them, so `--help` stays fast.
 *
 * Manners of a Unix tool: no colour unless stdout is a terminal and
 * `NO_COLOR` is unset; usage errors exit 2, runtime errors 1, SIGINT 130 and
 * SIGTERM 143; control characters from the ledger are escaped in tables.
 *
 * @since 0.1.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Terminal from "@effect/platform/Terminal"
import * as Doc from "@effect/printer/Doc"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

import { hasPeer } from "../internal/peer.js"
import * as Ledger from "../Ledger.js"
import { version as packageVersion } from "./version.js"

/**
 * The package version, read from package.json.
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = packageVersion

/**
 * A failure the CLI reports as one line on stderr, with exit code 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliError extends Schema.TaggedError<CliError>()("CliError", { message: Schema.String }) {}

/**
 * A command line the CLI does not understand: one line on stderr, exit code 2.
 *
 * @since 0.2.0
 * @category errors
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

// C0 and C1 controls (ESC, newline, carriage return, ...) and the Unicode bidirectional overrides
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * Escapes control characters so that text from the ledger (breaker names,
 * error messages) cannot move the cursor, clear the screen or split a table
 * row: a newline becomes `\n`, ESC `\x1b`, a bidi override `\u202e`.
 *
 * @since 0.2.0
 * @category formatting
 */
export const escapeControl = (s: string): string =>
  s.replace(CONTROL, (c) => {
    switch (c) {
      case "\n":
        return "\\n"
      case "\r":
        return "\\r"
      case "\t":
        return "\\t"
      default: {
        const code = c.charCodeAt(0)
        return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
      }
    }
  })

const db = Options.text("db").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription("The ledger's SQLite file, opened read-only (default: cascadebreaker.db)."),
  Options.withDefault("cascadebreaker.db")
)
const tablePrefix = Options.text("table-prefix").pipe(
  Options.withPseudoName("PREFIX"),
  Options.withDescription("Prefix of the ledger's tables, as given to SqliteLedger.layer (default: cb_)."),
  Options.withDefault("cb_")
)
const json = Options.boolean("json").pipe(
  Options.withDescription("Print the records as JSON (exact values, newest first) instead of a table.")
)
const breaker = Options.text("breaker").pipe(
  Options.withPseudoName("NAME"),
  Options.withDescription("Show only the records of the breaker with this name."),
  Options.optional
)
const limit = Options.integer("limit").pipe(
  Options.withPseudoName("N"),
  Options.withDescription("How many records to show, newest first, 1 to 100000 (default: 20)."),
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

/**
 * An aligned table, laid out by @effect/printer, with control characters escaped.
 *
 * @since 0.1.0
 * @category formatting
 */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  header = header.map(escapeControl)
  rows = rows.map((r) => r.map(escapeControl))
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

const summary = Command.make(
  "summary",
  { db, tablePrefix, json },
  (o) =>
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
          ))))
).pipe(
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
  Command.make(
    name,
    { db, tablePrefix, json, breaker, limit },
    (o) =>
      Effect.flatMap(checkLimit(o.limit), (n) =>
        withLedger(o, (ledger) =>
          Effect.flatMap(read(ledger, { breaker: Option.getOrUndefined(o.breaker), limit: n }), (rows) =>
            o.json
              ? printJson(rows)
              : rows.length === 0
              ? Console.log(`no ${name} recorded`)
              : Console.log(table(header, rows.map(toRow))))))
  ).pipe(Command.withDescription(description))

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
      return yield* new CliError({
        message: `--older-than must be a duration such as 30d, 12h or 90m, got "${o.olderThan}"`
      })
    }
    const { SqliteLedger } = yield* Effect.promise(() => import("../sqlite/index.js"))
    const removed = yield* SqliteLedger.prune({ filename: o.db, tablePrefix: o.tablePrefix, olderThan: o.olderThan })
      .pipe(
        Effect.mapError((e) => new CliError({ message: e.message }))
      )
    yield* Console.log(`removed ${removed} rows older than ${o.olderThan} (each breaker's latest transition is kept)`)
  })).pipe(Command.withDescription("delete ledger records older than a duration"))

const usageBy = Options.choice("by", ["node", "run"]).pipe(
  Options.withDescription("add up spend per node or per run"),
  Options.withDefault("node" as const)
)

const usage = Command.make(
  "usage",
  { db, tablePrefix, json, by: usageBy },
  (o) =>
    withLedger(o, (ledger) =>
      Effect.flatMap(ledger.usage({ by: o.by, limit: 1000 }), (rows) =>
        o.json
          ? printJson(rows)
          : rows.length === 0
          ? Console.log("no usage recorded")
          : Console.log(table(
            [o.by === "run" ? "RUN" : "NODE", "CALLS", "TOKENS IN", "TOKENS OUT", "COST USD"],
            rows.map((u) => [u.key, String(u.calls), String(u.tokensIn), String(u.tokensOut), u.costUsd.toFixed(4)])
          ))))
).pipe(Command.withDescription("tokens and cost spent per node or per run"))

// --- ledger tools (ToolGuard, issue 22) ---
const toolName = Options.text("tool").pipe(
  Options.withPseudoName("NAME"),
  Options.withDescription("Show only the calls of the tool with this name."),
  Options.optional
)
const runId = Options.text("run").pipe(
  Options.withPseudoName("ID"),
  Options.withDescription("Show only the calls of this run (LangGraph thread_id)."),
  Options.optional
)

const tools = Command.make(
  "tools",
  { db, tablePrefix, json, tool: toolName, run: runId, limit },
  (o) =>
    Effect.flatMap(checkLimit(o.limit), (n) =>
      withLedger(o, (ledger) =>
        Effect.flatMap(
          ledger.toolCalls({ tool: Option.getOrUndefined(o.tool), run: Option.getOrUndefined(o.run), limit: n }),
          (rows) =>
            o.json
              ? printJson(rows)
              : rows.length === 0
              ? Console.log("no tool calls recorded")
              : Console.log(table(
                ["TIME", "RUN", "NODE", "TOOL", "CALL", "OUTCOME", "DETAIL"],
                rows.map((c) => [
                  iso(c.createdAt),
                  c.runId ?? "-",
                  c.node,
                  c.tool,
                  c.callId ?? "-",
                  c.outcome,
                  oneLine(c.detail ?? "", 80)
                ])
              ))
        )))
).pipe(Command.withDescription("ToolGuard's decisions on tool calls, newest first: refusals, repairs, approvals"))

/**
 * The `ledger` subcommands; a new one is added here (its name is then known
 * to the usage check).
 */
const ledgerCommands = [summary, failures, transitions, prune, usage, tools] as const

const ledger = Command.make("ledger").pipe(
  Command.withDescription("Read the audit ledger: breakers, failures, transitions, spend; prune old records."),
  Command.withSubcommands(ledgerCommands)
)

const port = Options.integer("port").pipe(
  Options.withPseudoName("PORT"),
  Options.withDescription("TCP port to listen on; 0 picks a free port (default: 8765)."),
  Options.withDefault(8765)
)
const host = Options.text("host").pipe(
  Options.withPseudoName("HOST"),
  Options.withDescription("Interface to bind; the default 127.0.0.1 keeps the dashboard local."),
  Options.withDefault("127.0.0.1")
)

const dashboard = Command.make("dashboard", { db, tablePrefix, port, host }, (o) =>
  Effect.gen(function*() {
    if (o.port < 0 || o.port > 65535) {
      return yield* new CliError({ message: `--port must be between 0 and 65535, got ${o.port}` })
    }
    const { Dashboard } = yield* Effect.promise(() => import("../dashboard/index.js"))
    yield* Dashboard.serve({ db: o.db, tablePrefix: o.tablePrefix, port: o.port, host: o.host }).pipe(
      Effect.mapError((e) => new CliError({ message: e.message }))
    )
  })).pipe(Command.withDescription("Serve the live dashboard over the ledger until Ctrl-C."))

const demoDb = Options.text("db").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription("Where the demo writes its ledger (default: cascadebreaker.db)."),
  Options.withDefault("cascadebreaker.db")
)

const runs = Options.integer("runs").pipe(
  Options.withPseudoName("N"),
  Options.withDescription("How many times to run the pipeline (default: 50)."),
  Options.withDefault(50)
)

const demo = Command.make("demo", { db: demoDb, runs }, (o) =>
  Effect.gen(function*() {
    if (o.runs < 1) return yield* new CliError({ message: `--runs must be at least 1, got ${o.runs}` })
    // LangGraph is an optional peer dependency of agentarmour
    const missing = ["@langchain/langgraph", "@langchain/core"].filter((name) => !hasPeer(name))
    if (missing.length > 0) {
      return yield* new CliError({
        message: `the demo needs ${missing.join(" and ")}: npm install ${missing.join(" ")}`
      })
    }
    // the demo is examples/langgraph_pipeline.ts (compiled next to src/ in dist/)
    const { runDemo } = yield* Effect.promise(() => import("../../examples/langgraph_pipeline.js"))
    // on SIGINT/SIGTERM the fiber is interrupted: abort the demo and wait until it has flushed its ledger
    yield* Effect.async<void, CliError>((resume) => {
      const controller = new AbortController()
      const done = runDemo({ filename: o.db, runs: o.runs, signal: controller.signal }).then(
        () => resume(Effect.void),
        (e: unknown) =>
          resume(new CliError({ message: `the demo failed: ${e instanceof Error ? e.message : String(e)}` }))
      )
      return Effect.promise(() => {
        controller.abort()
        return done
      })
    })
  })).pipe(Command.withDescription("Run the faulty multi-agent LangGraph pipeline demo, writing a ledger."))

const rootCommands = [ledger, dashboard, demo] as const

const root = Command.make("agentarmour").pipe(
  Command.withDescription("Circuit breakers, fallbacks and an audit ledger for LangGraph agents."),
  Command.withSubcommands(rootCommands)
)

/**
 * Parses `argv` (as `process.argv`) and runs the command, with `@effect/cli`'s
 * own messages and help as they are.
 *
 * @since 0.1.0
 */
export const run = Command.run(root, { name: "agentarmour", version })

// --- usage check ---------------------------------------------------------------------------------------------------

/** the command groups, for the usage check: `ledger` and its subcommands (leaves are parsed by @effect/cli) */
const nameOf = (command: { readonly descriptor: Descriptor.Command<any> }): string =>
  Array.from(Descriptor.getNames(command.descriptor))[0]!
const groups: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["agentarmour", rootCommands.map(nameOf)],
  ["agentarmour ledger", ledgerCommands.map(nameOf)]
]

/** flags @effect/cli handles itself, anywhere */
const builtIns = new Set(["--help", "-h", "--version", "--completions", "--log-level"])

/**
 * Walks the command groups along `args` and names the first argument that is
 * not a command of its group. (@effect/cli reports that as "Invalid subcommand
 * for agentarmour", naming the wrong command.) `--wizard` is not offered.
 */
const checkUsage = (args: ReadonlyArray<string>): UsageError | undefined => {
  const end = args.indexOf("--")
  const wizard = args.slice(0, end === -1 ? undefined : end).find((a) => a === "--wizard" || a.startsWith("--wizard="))
  if (wizard !== undefined) return new UsageError({ message: `Received unknown argument: '${wizard}'` })
  let path = "agentarmour"
  for (const arg of args) {
    const group = groups.find(([name]) => name === path)
    if (group === undefined || builtIns.has(arg) || arg.startsWith("--log-level=")) return undefined
    const [, children] = group
    if (!children.includes(arg)) {
      return new UsageError({
        message: `Received unknown argument: '${arg}' (${path} expects a command: ${children.join(", ")})`
      })
    }
    path = `${path} ${arg}`
  }
  return undefined
}

/** the command group `args` lead into: "agentarmour ledger" for `ledger summary --help` */
const groupPath = (args: ReadonlyArray<string>): string => {
  let path = "agentarmour"
  for (const arg of args) {
    const group = groups.find(([name]) => name === path)
    if (group === undefined || !group[1].includes(arg)) break
    if (groups.some(([name]) => name === `${path} ${arg}`)) path = `${path} ${arg}`
    else break
  }
  return path
}

// --- environment ---------------------------------------------------------------------------------------------------

/**
 * What @effect/cli requires, without `@effect/platform-node`: the commands
 * read no files through it and prompt for nothing (no `--wizard`).
 */
const environment = Layer.mergeAll(
  Path.layer,
  FileSystem.layerNoop({}),
  Layer.succeed(
    Terminal.Terminal,
    Terminal.Terminal.of({
      columns: Effect.sync(() => process.stdout.columns ?? 80),
      rows: Effect.sync(() => process.stdout.rows ?? 24),
      isTTY: Effect.sync(() => process.stdout.isTTY === true),
      readInput: Effect.dieMessage("agentarmour does not prompt"),
      readLine: Effect.dieMessage("agentarmour does not prompt"),
      display: (text) => Effect.sync(() => void process.stdout.write(text))
    })
  ),
  CliConfig.layer({ showBuiltIns: false })
)

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g

/** colour only on a terminal and when `NO_COLOR` is unset or empty (https://no-color.org) */
const colourOn = (stream: NodeJS.WriteStream) =>
  stream.isTTY === true && (process.env["NO_COLOR"] === undefined || process.env["NO_COLOR"] === "")

/** @effect/cli's generic lines in help: the type of each option and "This setting is optional." */
const BOILERPLATE =
  /^\s*(A user-defined piece of text|A true or false value|An integer|This setting is optional|One of the following: .*)\.?\s*$/

/** a usage line with its full command path: "summary [--db FILE]" under "agentarmour ledger" */
const usageLine = (usage: string, path: string): string => {
  const parent = path.split(" ")
  // help for a group itself (`agentarmour ledger`) starts with the group's own name
  if (parent.length > 1 && usage.split(" ")[0] === parent[parent.length - 1]) parent.pop()
  return `${parent.join(" ")} ${usage}`
}

/**
 * Help without @effect/cli's generic lines, and with the full command path in
 * its usage line (`$ agentarmour ledger summary ...`, not `$ summary ...`).
 */
const cleanHelp = (text: string, path: string): string => {
  const lines = text.split("\n")
  const kept: Array<string> = []
  for (let i = 0; i < lines.length; i++) {
    const plain = lines[i]!.replace(ANSI, "")
    // a boilerplate paragraph goes with the blank line after it
    if (BOILERPLATE.test(plain)) {
      if (lines[i + 1]?.trim() === "") i++
      continue
    }
    kept.push(
      plain.startsWith("$ ") && !plain.startsWith("$ agentarmour") ? `$ ${usageLine(plain.slice(2), path)}` : lines[i]!
    )
  }
  return kept.join("\n")
}

/**
 * A console that strips colour where it is off, and keeps what @effect/cli
 * writes to stderr (its usage errors) for the CLI to print as one prefixed line.
 */
const makeConsole = (base: Console.Console, stderr: Array<string>, helpPath: string): Console.Console => {
  const plain = (on: boolean) => (args: ReadonlyArray<unknown>) =>
    args.map((a) =>
      typeof a !== "string"
        ? a
        : (on ? a : a.replace(ANSI, "")).replace(HELP, (help) => cleanHelp(help, helpPath))
    )
  const out = plain(colourOn(process.stdout))
  const err = plain(colourOn(process.stderr))
  return {
    ...base,
    log: (...args) => base.log(...out(args)),
    error: (...args) => Effect.sync(() => void stderr.push(err(args).map(String).join(" "))),
    unsafe: {
      ...base.unsafe,
      log: (...args) => base.unsafe.log(...out(args)),
      error: (...args) => void stderr.push(err(args).map(String).join(" "))
    }
  }
}

/** help starts with the application's name as a heading, then its version */
const HELP = new RegExp(
  `^(\\x1b\\[[0-9;]*m)*agentarmour(\\x1b\\[[0-9;]*m)*\\n\\nagentarmour ${version.replace(/\./g, "\\.")}[^]*$`
)

const line = (message: string) => Effect.sync(() => void process.stderr.write(`agentarmour: ${message}\n`))

const plainText = (doc: HelpDoc.HelpDoc) => HelpDoc.toAnsiText(doc).replace(ANSI, "").trim()

/**
 * The whole program for `argv`: runs the command and resolves to the exit
 * code (0, 1 for a runtime error, 2 for a usage error), having printed errors
 * as one line each on stderr.
 *
 * @since 0.2.0
 */
export const program = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.gen(function*() {
    const usage = checkUsage(argv.slice(2))
    if (usage !== undefined) {
      yield* line(usage.message)
      return 2
    }
    const stderr: Array<string> = []
    const base = yield* Effect.console
    const exit = yield* run(argv).pipe(
      Effect.withConsole(makeConsole(base, stderr, groupPath(argv.slice(2)))),
      Effect.provide(environment),
      Effect.exit
    )
    const usageText = Exit.isFailure(exit) ?
      Option.getOrUndefined(Option.map(
        Option.filter(Cause.failureOption(exit.cause), ValidationError.isValidationError),
        (e) => plainText(e.error)
      )) :
      undefined
    // what @effect/cli printed, but its usage error, which follows as one prefixed line
    for (const text of stderr) {
      if (usageText === undefined || text.replace(ANSI, "").trim() !== usageText) process.stderr.write(`${text}\n`)
    }
    if (Exit.isSuccess(exit)) return 0
    if (Cause.isInterruptedOnly(exit.cause)) return 130
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) {
      const e = failure.value
      if (ValidationError.isValidationError(e)) {
        yield* line(usageText === undefined || usageText === "" ? "invalid command line" : usageText.split("\n")[0]!)
        return 2
      }
      yield* line(escapeControl(e.message))
      return 1
    }
    const defect = Cause.squash(exit.cause)
    yield* line(`unexpected error: ${escapeControl(defect instanceof Error ? defect.message : String(defect))}`)
    return 1
  })

/**
 * Runs the CLI as the process: exit code from {@link program}; on SIGINT or
 * SIGTERM the command is interrupted (the demo flushes its ledger) and the
 * process exits with 130 or 143.
 *
 * @since 0.2.0
 */
export const main = (argv: ReadonlyArray<string>): void => {
  // Effect fibers waiting on nothing but a timer do not keep Node alive
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  const fiber = Effect.runFork(program(argv))
  let signal: number | undefined
  const onSignal = (code: number) => () => {
    signal = code
    process.removeListener("SIGINT", onSigint)
    process.removeListener("SIGTERM", onSigterm)
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  const onSigint = onSignal(130)
  const onSigterm = onSignal(143)
  process.on("SIGINT", onSigint)
  process.on("SIGTERM", onSigterm)
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    process.removeListener("SIGINT", onSigint)
    process.removeListener("SIGTERM", onSigterm)
    const code = signal ?? (Exit.isSuccess(exit) ? exit.value : 1)
    if (code !== 0) process.exit(code)
  })
}
