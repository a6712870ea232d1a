/**
 * ToolGuard's decisions in the ledger (`cb_tool_calls`): recorded and read back
 * by tool and by run, in memory, in SQLite (also an 0.2 file upgraded in place)
 * and in Postgres.
 */
import { join } from "node:path"

import { describe, expect, it } from "@effect/vitest"
import { Ledger } from "agentarmour"
import { PgLedger } from "agentarmour/pg"
import { SqliteLedger } from "agentarmour/sqlite"
import Database from "better-sqlite3"
import { Effect } from "effect"

import { withLedger } from "./support/ledger.js"
import { tempDir } from "./support/tmp.js"
import { usePostgres } from "./support/usePostgres.js"

const pg = usePostgres()

const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i))

const calls: ReadonlyArray<Ledger.ToolCallRecord> = [
  new Ledger.ToolCallRecord({
    runId: "run-1",
    node: "tools",
    tool: "search",
    callId: "call_1",
    outcome: "ok",
    detail: null,
    createdAt: at(1)
  }),
  new Ledger.ToolCallRecord({
    runId: "run-1",
    node: "tools",
    tool: "serch",
    callId: "call_2",
    outcome: "unknown_tool",
    detail: "There is no tool \"serch\". Did you mean \"search\"?",
    createdAt: at(2)
  }),
  new Ledger.ToolCallRecord({
    runId: "run-2",
    node: "tools",
    tool: "search",
    callId: null,
    outcome: "repaired",
    detail: "trailing comma",
    createdAt: at(3)
  }),
  new Ledger.ToolCallRecord({
    runId: null,
    node: "tools",
    tool: "delete_file",
    callId: "call_4",
    outcome: "denied",
    detail: "denied by policy",
    createdAt: at(4)
  })
]

/** records the four calls, flushes, and reads them back four ways */
const roundTrip = (l: Ledger.Ledger) =>
  Effect.gen(function*() {
    yield* Effect.forEach(calls, (c) => l.recordToolCall(c), { discard: true })
    yield* l.flush
    return {
      all: yield* l.toolCalls(),
      byTool: yield* l.toolCalls({ tool: "search" }),
      byRun: yield* l.toolCalls({ run: "run-1" }),
      limited: yield* l.toolCalls({ limit: 1 })
    }
  })

const expectRoundTrip = (r: Effect.Effect.Success<ReturnType<typeof roundTrip>>) => {
  expect(r.all.map((c) => [c.tool, c.outcome])).toEqual([
    ["delete_file", "denied"],
    ["search", "repaired"],
    ["serch", "unknown_tool"],
    ["search", "ok"]
  ])
  expect(r.all[0]).toEqual(calls[3])
  expect(r.all[2]).toEqual(calls[1])
  expect(r.byTool.map((c) => c.outcome)).toEqual(["repaired", "ok"])
  expect(r.byRun.map((c) => c.callId)).toEqual(["call_2", "call_1"])
  expect(r.limited).toHaveLength(1)
}

describe("Ledger tool calls (cb_tool_calls)", () => {
  it.effect("the memory ledger keeps tool calls and answers them newest first, by tool and by run", () =>
    Effect.gen(function*() {
      const l = yield* Ledger.makeMemory()
      expectRoundTrip(yield* roundTrip(l))
    }))

  it.effect("the no-op ledger records no tool call and answers empty", () =>
    withLedger(Ledger.layerNoop, roundTrip).pipe(Effect.map((r) => expect(r.all).toEqual([]))))

  it.live("SQLite writes tool calls to cb_tool_calls and reads them back by tool and by run", () =>
    Effect.gen(function*() {
      const filename = join(tempDir("agentarmour-tools-"), "ledger.db")
      expectRoundTrip(yield* withLedger(SqliteLedger.layer({ filename }), roundTrip))
      const db = new Database(filename, { readonly: true })
      const rows = db.prepare("SELECT * FROM cb_tool_calls ORDER BY id").all() as Array<Record<string, unknown>>
      db.close()
      expect(rows[1]).toMatchObject({
        run_id: "run-1",
        node: "tools",
        tool: "serch",
        call_id: "call_2",
        outcome: "unknown_tool"
      })
      expect(rows[3]).toMatchObject({ run_id: null, call_id: "call_4", outcome: "denied" })
      // the read-only view (CLI, dashboard) reads them too
      const readonly = yield* withLedger(
        SqliteLedger.layerReadonly({ filename }),
        (l) => l.toolCalls({ tool: "search" })
      )
      expect(readonly.map((c) => c.outcome)).toEqual(["repaired", "ok"])
    }))

  it.live("a 0.2 SQLite ledger without cb_tool_calls is upgraded in place and keeps its rows", () =>
    Effect.gen(function*() {
      const filename = join(tempDir("agentarmour-tools-"), "ledger.db")
      yield* withLedger(SqliteLedger.layer({ filename }), (l) =>
        Effect.zipRight(
          l.recordTransition(
            new Ledger.TransitionRecord({
              breakerName: "research",
              fromState: "CLOSED",
              toState: "OPEN",
              reason: "3 failures",
              createdAt: at(0)
            })
          ),
          l.flush
        ))
      // what 0.2 left: no table and no migration 3
      const db = new Database(filename)
      db.exec("DROP TABLE cb_tool_calls")
      db.prepare("DELETE FROM cb_migrations WHERE migration_id = 3").run()
      db.close()
      // the read-only view of the old file answers empty rather than failing
      expect(yield* withLedger(SqliteLedger.layerReadonly({ filename }), (l) => l.toolCalls())).toEqual([])
      const r = yield* withLedger(
        SqliteLedger.layer({ filename }),
        (l) => Effect.all({ rt: roundTrip(l), transitions: l.transitions() })
      )
      expectRoundTrip(r.rt)
      expect(r.transitions.map((t) => t.reason)).toEqual(["3 failures"])
    }))

  it.live("Postgres writes tool calls and reads them back by tool and by run", () =>
    Effect.gen(function*() {
      expectRoundTrip(yield* withLedger(PgLedger.layer({ ...pg.server.options(), tablePrefix: "tc_" }), roundTrip))
    }), 120_000)
})
