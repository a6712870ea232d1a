/**
 * `agentarmour ledger prune`, `ledger usage`, and `ledger summary` on a
 * generated ledger with a large history, run as child processes from the sources.
 */
import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"

import { describe, expect, it } from "@effect/vitest"
import { Ledger } from "agentarmour"
import { SqliteLedger } from "agentarmour/sqlite"
import { Effect, Exit, Layer, Scope } from "effect"

import { expectedState, generate } from "../bench/ledgerVolume.js"
import { tempDir as tempTestDir } from "./support/tmp.js"

const root = join(import.meta.dirname, "..")
const exec = promisify(execFile)

const cli = async (...args: Array<string>) => {
  try {
    const { stderr, stdout } = await exec(
      process.execPath,
      ["--import", "tsx", join(root, "src/cli/main.ts"), ...args],
      {
        cwd: root,
        env: { ...process.env, NO_COLOR: "1" },
        maxBuffer: 50_000_000
      }
    )
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

const tempDb = () => join(tempTestDir("agentarmour-lcli-"), "cascadebreaker.db")
const DAY = 24 * 3600_000

/** writes records through the library's own ledger */
const seed = (filename: string, write: (l: Ledger.Ledger) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ctx = yield* Layer.buildWithScope(SqliteLedger.layer({ filename }), scope)
    yield* write(ctx.unsafeMap.get(Ledger.Ledger.key) as Ledger.Ledger)
    yield* Scope.close(scope, Exit.void)
  })

describe("agentarmour ledger prune", () => {
  it.live("removes rows older than --older-than, prints the count, keeps each breaker's latest transition", () =>
    Effect.gen(function*() {
      const db = tempDb()
      const now = Date.now()
      yield* seed(db, (l) =>
        Effect.gen(function*() {
          for (const days of [60, 45, 31, 2]) {
            yield* l.recordFailure(
              new Ledger.FailureRecord({
                breakerName: "research",
                category: "exception",
                errorType: "E",
                errorMessage: `${days}d`,
                traceback: "t",
                createdAt: new Date(now - days * DAY)
              })
            )
          }
          yield* l.recordTransition(
            new Ledger.TransitionRecord({
              breakerName: "research",
              fromState: "CLOSED",
              toState: "OPEN",
              reason: "old",
              createdAt: new Date(now - 90 * DAY)
            })
          )
        }))
      const r = yield* Effect.promise(() => cli("ledger", "prune", "--older-than", "30d", "--db", db))
      expect(r.stderr).toBe("")
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/^removed 3 rows older than 30d/)
      const summary = yield* Effect.promise(() => cli("ledger", "summary", "--db", db, "--json"))
      const rows = JSON.parse(summary.stdout) as Array<{ breakerName: string; state: string; failuresTotal: number }>
      expect(rows.map((s) => [s.breakerName, s.state, s.failuresTotal])).toEqual([["research", "OPEN", 1]])
    }))

  it.live("a bad duration is one line on stderr and a non-zero exit; the ledger is untouched", () =>
    Effect.gen(function*() {
      const db = tempDb()
      yield* seed(db, (l) =>
        l.recordFailure(
          new Ledger.FailureRecord({
            breakerName: "a",
            category: "exception",
            errorType: "E",
            errorMessage: "m",
            traceback: "t",
            createdAt: new Date(0)
          })
        ))
      const r = yield* Effect.promise(() => cli("ledger", "prune", "--older-than", "soon", "--db", db))
      expect(r.code).not.toBe(0)
      expect(r.stderr.trim().split("\n")).toHaveLength(1)
      expect(r.stderr).toContain("--older-than")
      const missing = yield* Effect.promise(() => cli("ledger", "prune", "--older-than", "1d", "--db", `${db}.missing`))
      expect(missing.code).not.toBe(0)
      expect(missing.stderr).toContain("no ledger at")
      const summary = yield* Effect.promise(() => cli("ledger", "summary", "--db", db, "--json"))
      expect(JSON.parse(summary.stdout)[0].failuresTotal).toBe(1)
    }))
})

describe("agentarmour ledger usage", () => {
  it.live("prints tokens and cost per node (default) or per run, as a table or JSON", () =>
    Effect.gen(function*() {
      const db = tempDb()
      yield* seed(db, (l) =>
        Effect.forEach(
          [["research", "run-1", 1000, 0.02], ["research", "run-2", 3000, 0.06], [
            "writer",
            "run-1",
            500,
            0.01
          ]] as const,
          ([node, runId, tokensIn, costUsd]) =>
            l.recordUsage(
              new Ledger.UsageRecord({
                node,
                budget: "daily",
                runId,
                model: "gpt-x",
                tokensIn,
                tokensOut: 100,
                costUsd,
                createdAt: new Date()
              })
            ),
          { discard: true }
        ))
      const table = yield* Effect.promise(() => cli("ledger", "usage", "--db", db))
      expect(table.code).toBe(0)
      const lines = table.stdout.trim().split("\n")
      expect(lines[0]).toMatch(/^NODE\s+CALLS\s+TOKENS IN\s+TOKENS OUT\s+COST USD$/)
      expect(lines[2]).toMatch(/^research\s+2\s+4000\s+200\s+0\.0800$/)
      expect(lines[3]).toMatch(/^writer\s+1\s+500\s+100\s+0\.0100$/)
      const byRun = yield* Effect.promise(() => cli("ledger", "usage", "--by", "run", "--json", "--db", db))
      const rows = JSON.parse(byRun.stdout) as Array<{ key: string; calls: number; tokensIn: number }>
      expect(rows.map((r) => [r.key, r.calls, r.tokensIn])).toEqual([["run-2", 1, 3000], ["run-1", 2, 1500]])
    }))
})

describe("agentarmour ledger tools", () => {
  it.live(
    "prints ToolGuard's decisions newest first, by --tool and --run, as a table or JSON",
    () =>
      Effect.gen(function*() {
        const db = tempDb()
        const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 12, 0, s))
        yield* seed(db, (l) =>
          Effect.forEach(
            [
              ["run-1", "serch", "call_1", "unknown_tool", "There is no tool \"serch\". Did you mean \"search\"?"],
              ["run-1", "search", "call_2", "repaired", "trailing comma removed"],
              ["run-2", "delete_file", "call_3", "denied", "delete_file needs approval"],
              ["run-2", "search", null, "ok", null]
            ] as const,
            ([runId, tool, callId, outcome, detail], i) =>
              l.recordToolCall(
                new Ledger.ToolCallRecord({ runId, node: "tools", tool, callId, outcome, detail, createdAt: at(i) })
              ),
            { discard: true }
          ))
        const all = yield* Effect.promise(() => cli("ledger", "tools", "--db", db))
        expect(all.code).toBe(0)
        const lines = all.stdout.trim().split("\n")
        expect(lines[0]).toMatch(/^TIME\s+RUN\s+NODE\s+TOOL\s+CALL\s+OUTCOME\s+DETAIL$/)
        expect(lines[2]).toMatch(/run-2\s+tools\s+search\s+-\s+ok/)
        expect(lines[5]).toMatch(/run-1\s+tools\s+serch\s+call_1\s+unknown_tool\s+There is no tool "serch"/)
        const byTool = yield* Effect.promise(() => cli("ledger", "tools", "--tool", "search", "--json", "--db", db))
        const rows = JSON.parse(byTool.stdout) as Array<{ tool: string; outcome: string; runId: string | null }>
        expect(rows.map((r) => [r.tool, r.outcome, r.runId])).toEqual([["search", "ok", "run-2"], [
          "search",
          "repaired",
          "run-1"
        ]])
        const byRun = yield* Effect.promise(() => cli("ledger", "tools", "--run", "run-2", "--json", "--db", db))
        expect((JSON.parse(byRun.stdout) as Array<{ outcome: string }>).map((r) => r.outcome)).toEqual(["ok", "denied"])
        const none = yield* Effect.promise(() => cli("ledger", "tools", "--tool", "nope", "--db", db))
        expect(none.stdout.trim()).toBe("no tool calls recorded")
      }),
    120_000
  )
})

describe("agentarmour ledger summary at volume", () => {
  it.live(
    "reads a ledger with a long history (200,000 failures, 20,000 transitions, 50 breakers) correctly",
    () =>
      Effect.gen(function*() {
        const db = tempDb()
        const volume = { failures: 200_000, transitions: 20_000, breakers: 50 }
        yield* Effect.promise(() => generate(db, volume))
        const r = yield* Effect.promise(() => cli("ledger", "summary", "--db", db, "--json"))
        expect(r.code).toBe(0)
        const rows = JSON.parse(r.stdout) as Array<
          { breakerName: string; state: string; failuresTotal: number; transitions: number; reason: string }
        >
        expect(rows).toHaveLength(50)
        for (const b of [0, 1, 17, 49]) {
          const row = rows.find((s) => s.breakerName === `agent-${b}`)!
          expect(row.state).toBe(expectedState(volume, b))
          expect(row.failuresTotal).toBe(4000)
          expect(row.transitions).toBe(400)
          expect(row.reason).toBe(`generated ${19_950 + b}`)
        }
      }),
    120_000
  )
})
