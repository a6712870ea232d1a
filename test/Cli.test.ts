import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { Ledger } from "agentarmour"
import { SqliteLedger } from "agentarmour/sqlite"

const root = join(import.meta.dirname, "..")
const exec = promisify(execFile)

/** runs the CLI from the sources as a child process */
const cli = async (...args: Array<string>) => {
  try {
    const { stdout, stderr } = await exec(process.execPath, ["--import", "tsx", join(root, "src/cli/main.ts"), ...args], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1" }
    })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

const dir = mkdtempSync(join(tmpdir(), "agentarmour-cli-"))
const db = join(dir, "cascadebreaker.db")

const seed = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const ctx = yield* Layer.buildWithScope(SqliteLedger.layer({ filename: db }), scope)
  const ledger = ctx.unsafeMap.get(Ledger.Ledger.key) as Ledger.Ledger
  const at = (s: number) => new Date(Date.UTC(2026, 10, 1, 12, 0, s))
  for (const [i, name] of ["research", "extract", "research"].entries()) {
    yield* ledger.recordFailure(new Ledger.FailureRecord({
      breakerName: name,
      category: i === 2 ? "timeout" : "exception",
      errorType: i === 2 ? "CallTimeoutError" : "AgentError",
      errorMessage: i === 2 ? "call exceeded its callTimeout of 30000 ms" : "model returned garbage\nsecond line",
      traceback: "AgentError\n    at researchAgent",
      createdAt: at(i)
    }))
  }
  yield* ledger.recordTransition(new Ledger.TransitionRecord({ breakerName: "research", fromState: "CLOSED", toState: "OPEN", reason: "2 failures within 1m", createdAt: at(3) }))
  // the last 24 hours of call statistics: research 1 failure in 4 calls, extract calls without failures
  for (const outcome of ["success", "success", "failure", "success", "rejected"] as const) {
    yield* ledger.recordCall({ breakerName: "research", outcome, slow: false, createdAt: new Date() })
  }
  yield* ledger.recordCall({ breakerName: "extract", outcome: "success", slow: false, createdAt: new Date() })
  yield* Scope.close(scope, Exit.void)
})

describe("agentarmour CLI", () => {
  it.live("ledger summary prints an aligned table per breaker", () =>
    Effect.gen(function*() {
      yield* seed
      const r = yield* Effect.promise(() => cli("ledger", "summary", "--db", db))
      expect(r.code).toBe(0)
      const lines = r.stdout.trim().split("\n")
      expect(lines[0]).toMatch(
        /^BREAKER\s+STATE\s+SINCE \(UTC\)\s+CALLS 24H\s+FAILURE RATE\s+REJECTIONS\s+FALLBACKS 24H\s+FAILURES\s+LAST FAILURE\s+REASON$/
      )
      // the open breaker comes first, with since when, its traffic and why
      expect(lines[2]).toMatch(/^research\s+OPEN\s+2026-11-01T12:00:03Z\s+4\s+25\.0%\s+1\s+-\s+2\s+2026-11-01T12:00:02Z\s+2 failures within 1m$/)
      // columns line up: STATE starts at the same offset on every line
      expect(lines[2]!.indexOf("OPEN")).toBe(lines[0]!.indexOf("STATE"))
      expect(lines.find((l) => l.startsWith("extract"))).toMatch(/^extract\s+CLOSED\s+-\s+1\s+0\.0%\s+0\s/)
      const json = yield* Effect.promise(() => cli("ledger", "summary", "--db", db, "--json"))
      expect(JSON.parse(json.stdout)).toContainEqual(expect.objectContaining({
        breakerName: "research",
        state: "OPEN",
        since: "2026-11-01T12:00:03.000Z",
        reason: "2 failures within 1m",
        calls: 4,
        failures: 1,
        failureRate: 0.25,
        rejections: 1
      }))
    }), 60_000)

  it.live("ledger failures and transitions filter by breaker, limit, and print JSON", () =>
    Effect.gen(function*() {
      const f = yield* Effect.promise(() => cli("ledger", "failures", "--db", db, "--breaker", "research", "--limit", "1", "--json"))
      expect(f.code).toBe(0)
      const rows = JSON.parse(f.stdout)
      expect(rows).toHaveLength(1)
      expect(rows[0]).toMatchObject({ breakerName: "research", category: "timeout", errorType: "CallTimeoutError" })
      const table = yield* Effect.promise(() => cli("ledger", "failures", "--db", db))
      expect(table.stdout).toContain("model returned garbage second line")
      const t = yield* Effect.promise(() => cli("ledger", "transitions", "--db", db, "--json"))
      expect(JSON.parse(t.stdout)[0]).toMatchObject({ fromState: "CLOSED", toState: "OPEN", reason: "2 failures within 1m" })
    }), 60_000)

  it.live("a missing database is not created: one line on stderr, exit code 1", () =>
    Effect.gen(function*() {
      const missing = join(dir, "missing.db")
      const r = yield* Effect.promise(() => cli("ledger", "summary", "--db", missing))
      expect(r.code).toBe(1)
      expect(r.stderr.trim()).toBe(`agentarmour: no ledger at ${missing}`)
      expect(existsSync(missing)).toBe(false)
    }), 60_000)

  it.live("a file that is not a ledger, a wrong prefix and a negative limit each get one clear line", () =>
    Effect.gen(function*() {
      const junk = join(dir, "junk.db")
      writeFileSync(junk, "not a database at all ".repeat(200))
      const cases = yield* Effect.promise(() => Promise.all([
        cli("ledger", "summary", "--db", junk),
        cli("ledger", "summary", "--db", db, "--table-prefix", "nope_"),
        cli("ledger", "failures", "--db", db, "--limit", "-3")
      ]))
      const expected = ["is not an SQLite database", `no table nope_failures`, "--limit must be between 1 and 100000, got -3"]
      for (const [i, r] of cases.entries()) {
        expect(r.code).toBe(1)
        expect(r.stderr.trim().split("\n")).toHaveLength(1)
        expect(r.stderr).toContain(expected[i])
        expect(r.stderr).not.toMatch(/\n\s+at /)
      }
    }), 60_000)

  it.live("--help and --version work, and an unknown flag fails without a stack trace", () =>
    Effect.gen(function*() {
      const [help, version, bad] = yield* Effect.promise(() => Promise.all([
        cli("ledger", "--help"),
        cli("--version"),
        cli("ledger", "summary", "--db", db, "--frobnicate")
      ]))
      expect(help.code).toBe(0)
      expect(help.stdout).toContain("summary")
      expect(version.stdout.trim()).toMatch(/\d+\.\d+\.\d+/)
      expect(bad.code).toBe(1)
      expect(bad.stdout + bad.stderr).not.toMatch(/\n\s+at /)
    }), 60_000)

  it.live("dashboard: a missing database and a port in use are one clear line each, exit code 1", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.promise(() => cli("dashboard", "--db", join(dir, "missing.db")))
      expect(missing.code).toBe(1)
      expect(missing.stderr.trim()).toBe(`agentarmour: no ledger at ${join(dir, "missing.db")}`)
      const { createServer } = yield* Effect.promise(() => import("node:net"))
      const blocker = createServer()
      const port = yield* Effect.promise(() =>
        new Promise<number>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)))
      )
      const busy = yield* Effect.promise(() => cli("dashboard", "--db", db, "--port", String(port)))
      blocker.close()
      expect(busy.code).toBe(1)
      expect(busy.stderr.trim()).toBe(`agentarmour: port ${port} is already in use on 127.0.0.1`)
    }), 60_000)
})
