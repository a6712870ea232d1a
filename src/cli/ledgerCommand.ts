/**
 * `agentarmour ledger summary|failures|transitions|prune|usage|tools`: reads
 * the audit ledger read-only (prune deletes old records).
 *
 * @since 0.3.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

import * as Ledger from "../Ledger.js"
import { CliError } from "./errors.js"
import { iso, oneLine, printRows } from "./format.js"
import { Age, breaker, db, json, limit, tablePrefix, withFlagSchema } from "./options.js"

const sqlite = Effect.promise(() => import("../sqlite/index.js"))

const toCliError = (e: Ledger.LedgerError) => new CliError({ message: e.message })

/** runs `use` with a read-only ledger over `--db` (the SQLite driver is loaded here, not before) */
const withLedger = <A>(
  options: { readonly db: string; readonly tablePrefix: string },
  use: (ledger: Ledger.Ledger) => Effect.Effect<A, Ledger.LedgerError>
): Effect.Effect<A, CliError> =>
  Effect.flatMap(sqlite, ({ SqliteLedger }) =>
    Effect.flatMap(Ledger.Ledger, use).pipe(
      Effect.provide(SqliteLedger.layerReadonly({ filename: options.db, tablePrefix: options.tablePrefix })),
      Effect.mapError(toCliError)
    ))

// --- summary -----------------------------------------------------------------------------------------------------

/** worst first, as on the dashboard: the breakers that are down lead */
const STATE_RANK: Record<Ledger.BreakerState, number> = { OPEN: 0, HALF_OPEN: 1, ISOLATED: 2, DISABLED: 3, CLOSED: 4 }
const worstFirst = (a: Ledger.BreakerSummary, b: Ledger.BreakerSummary) =>
  STATE_RANK[a.state] - STATE_RANK[b.state] || (a.breakerName < b.breakerName ? -1 : 1)
const percent = (s: Ledger.BreakerSummary) => (s.calls === 0 ? "-" : `${(s.failureRate * 100).toFixed(1)}%`)
const byStrategy = (f: Readonly<Record<string, number>>) =>
  Object.keys(f).sort().map((k) => `${k} ${f[k]}`).join(", ") || "-"

const summary = Command.make(
  "summary",
  { db, tablePrefix, json },
  (o) =>
    withLedger(
      o,
      (ledger) =>
        Effect.flatMap(ledger.summary, (rows) =>
          printRows(o.json ? rows : [...rows].sort(worstFirst), {
            json: o.json,
            empty: "the ledger is empty: no breaker has recorded anything yet",
            header: [
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
            row: (s) => [
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
            ]
          }))
    )
).pipe(
  Command.withDescription(
    "per breaker: state, since when and why, calls, failure rate, rejections and fallbacks over the last 24 h (times UTC)"
  )
)

// --- failures, transitions -----------------------------------------------------------------------------------------

const failures = Command.make(
  "failures",
  { db, tablePrefix, json, breaker, limit },
  (o) =>
    withLedger(
      o,
      (ledger) =>
        Effect.flatMap(ledger.failures({ breaker: Option.getOrUndefined(o.breaker), limit: o.limit }), (rows) =>
          printRows(rows, {
            json: o.json,
            empty: "no failures recorded",
            header: ["TIME", "BREAKER", "CATEGORY", "TYPE", "MESSAGE"],
            row: (f) => [iso(f.createdAt), f.breakerName, f.category, f.errorType, oneLine(f.errorMessage, 100)]
          }))
    )
).pipe(Command.withDescription("recent failures, newest first"))

const transitions = Command.make(
  "transitions",
  { db, tablePrefix, json, breaker, limit },
  (o) =>
    withLedger(
      o,
      (ledger) =>
        Effect.flatMap(ledger.transitions({ breaker: Option.getOrUndefined(o.breaker), limit: o.limit }), (rows) =>
          printRows(rows, {
            json: o.json,
            empty: "no transitions recorded",
            header: ["TIME", "BREAKER", "FROM", "TO", "REASON"],
            row: (t) => [iso(t.createdAt), t.breakerName, t.fromState, t.toState, oneLine(t.reason, 100)]
          }))
    )
).pipe(Command.withDescription("recent state transitions, newest first"))

// --- prune ---------------------------------------------------------------------------------------------------------

const olderThan = Options.text("older-than").pipe(
  Options.withPseudoName("AGE"),
  Options.withDescription("Remove records older than this: 30d, 12h, 90m or a duration such as \"30 days\"."),
  withFlagSchema("older-than", Age)
)

const prune = Command.make("prune", { db, tablePrefix, olderThan }, (o) =>
  Effect.gen(function*() {
    const { SqliteLedger } = yield* sqlite
    const removed = yield* SqliteLedger.prune({ filename: o.db, tablePrefix: o.tablePrefix, olderThan: o.olderThan })
      .pipe(Effect.mapError(toCliError))
    yield* Console.log(`removed ${removed} rows older than ${o.olderThan} (each breaker's latest transition is kept)`)
  })).pipe(Command.withDescription("delete ledger records older than a duration"))

// --- usage ---------------------------------------------------------------------------------------------------------

const by = Options.choice("by", ["node", "run"]).pipe(
  Options.withDescription("Add up spend per node or per run (default: node)."),
  Options.withDefault("node" as const)
)

const usage = Command.make(
  "usage",
  { db, tablePrefix, json, by },
  (o) =>
    withLedger(o, (ledger) =>
      Effect.flatMap(ledger.usage({ by: o.by, limit: 1000 }), (rows) =>
        printRows(rows, {
          json: o.json,
          empty: "no usage recorded",
          header: [o.by === "run" ? "RUN" : "NODE", "CALLS", "TOKENS IN", "TOKENS OUT", "COST USD"],
          row: (u) => [u.key, String(u.calls), String(u.tokensIn), String(u.tokensOut), u.costUsd.toFixed(4)]
        })))
).pipe(Command.withDescription("tokens and cost spent per node or per run"))

// --- tools (ToolGuard, issue 22) -----------------------------------------------------------------------------------

const tool = Options.text("tool").pipe(
  Options.withPseudoName("NAME"),
  Options.withDescription("Show only the calls of the tool with this name."),
  Options.optional
)
const run = Options.text("run").pipe(
  Options.withPseudoName("ID"),
  Options.withDescription("Show only the calls of this run (LangGraph thread_id)."),
  Options.optional
)

const tools = Command.make(
  "tools",
  { db, tablePrefix, json, tool, run, limit },
  (o) =>
    withLedger(o, (ledger) =>
      Effect.flatMap(
        ledger.toolCalls({ tool: Option.getOrUndefined(o.tool), run: Option.getOrUndefined(o.run), limit: o.limit }),
        (rows) =>
          printRows(rows, {
            json: o.json,
            empty: "no tool calls recorded",
            header: ["TIME", "RUN", "NODE", "TOOL", "CALL", "OUTCOME", "DETAIL"],
            row: (c) => [
              iso(c.createdAt),
              c.runId ?? "-",
              c.node,
              c.tool,
              c.callId ?? "-",
              c.outcome,
              oneLine(c.detail ?? "", 80)
            ]
          })
      ))
).pipe(Command.withDescription("ToolGuard's decisions on tool calls, newest first: refusals, repairs, approvals"))

/**
 * `agentarmour ledger` and its subcommands.
 *
 * @since 0.3.0
 */
export const ledger = Command.make("ledger").pipe(
  Command.withDescription("Read the audit ledger: breakers, failures, transitions, spend; prune old records."),
  Command.withSubcommands([summary, failures, transitions, prune, usage, tools])
)
