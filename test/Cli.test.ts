import { execFile, spawn } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"

import { describe, expect, it } from "@effect/vitest"
import { Ledger } from "agentarmour"
import { SqliteLedger } from "agentarmour/sqlite"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { tempDir as tempTestDir } from "./support/tmp.js"

const root = join(import.meta.dirname, "..")
const bin = join(root, "bin/agentarmour.js")
const exec = promisify(execFile)

if (!existsSync(join(root, "dist/src/cli/main.js"))) {
  throw new Error("the CLI tests run the built binary: run `npm run build` first")
}

/** runs the built CLI (bin/agentarmour.js) as a child process, stdout and stderr piped */
const cli = async (args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}) => {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...env }
    })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

const dir = tempTestDir("agentarmour-cli-")
const db = join(dir, "cascadebreaker.db")

const seed = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const ctx = yield* Layer.buildWithScope(SqliteLedger.layer({ filename: db }), scope)
  const ledger = Context.get(ctx, Ledger.Ledger)
  const at = (s: number) => new Date(Date.UTC(2026, 10, 1, 12, 0, s))
  for (const [i, name] of ["research", "extract", "research"].entries()) {
    yield* ledger.recordFailure(
      new Ledger.FailureRecord({
        breakerName: name,
        category: i === 2 ? "timeout" : "exception",
        errorType: i === 2 ? "CallTimeoutError" : "AgentError",
        errorMessage: i === 2 ? "call exceeded its callTimeout of 30000 ms" : "model returned garbage\nsecond line",
        traceback: "AgentError\n    at researchAgent",
        createdAt: at(i)
      })
    )
  }
  yield* ledger.recordTransition(
    new Ledger.TransitionRecord({
      breakerName: "research",
      fromState: "CLOSED",
      toState: "OPEN",
      reason: "2 failures within 1m",
      createdAt: at(3)
    })
  )
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
      const r = yield* Effect.promise(() => cli(["ledger", "summary", "--db", db]))
      expect(r.code).toBe(0)
      const lines = r.stdout.trim().split("\n")
      expect(lines[0]).toMatch(
        /^BREAKER\s+STATE\s+SINCE \(UTC\)\s+CALLS 24H\s+FAILURE RATE\s+REJECTIONS\s+FALLBACKS 24H\s+FAILURES\s+LAST FAILURE\s+REASON$/
      )
      // the open breaker comes first, with since when, its traffic and why
      expect(lines[2]).toMatch(
        /^research\s+OPEN\s+2026-11-01T12:00:03Z\s+4\s+25\.0%\s+1\s+-\s+2\s+2026-11-01T12:00:02Z\s+2 failures within 1m$/
      )
      // columns line up: STATE starts at the same offset on every line
      expect(lines[2]!.indexOf("OPEN")).toBe(lines[0]!.indexOf("STATE"))
      expect(lines.find((l) => l.startsWith("extract"))).toMatch(/^extract\s+CLOSED\s+-\s+1\s+0\.0%\s+0\s/)
      const json = yield* Effect.promise(() => cli(["ledger", "summary", "--db", db, "--json"]))
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
      const f = yield* Effect.promise(() =>
        cli(["ledger", "failures", "--db", db, "--breaker", "research", "--limit", "1", "--json"])
      )
      expect(f.code).toBe(0)
      const rows = JSON.parse(f.stdout)
      expect(rows).toHaveLength(1)
      expect(rows[0]).toMatchObject({ breakerName: "research", category: "timeout", errorType: "CallTimeoutError" })
      const table = yield* Effect.promise(() => cli(["ledger", "failures", "--db", db]))
      expect(table.stdout).toContain("model returned garbage second line")
      const t = yield* Effect.promise(() => cli(["ledger", "transitions", "--db", db, "--json"]))
      expect(JSON.parse(t.stdout)[0]).toMatchObject({
        fromState: "CLOSED",
        toState: "OPEN",
        reason: "2 failures within 1m"
      })
    }), 60_000)

  it.live("a missing database is not created: one line on stderr, exit code 1", () =>
    Effect.gen(function*() {
      const missing = join(dir, "missing.db")
      const r = yield* Effect.promise(() => cli(["ledger", "summary", "--db", missing]))
      expect(r.code).toBe(1)
      expect(r.stderr.trim()).toBe(`agentarmour: no ledger at ${missing}`)
      expect(existsSync(missing)).toBe(false)
    }), 60_000)

  it.live(
    "a file that is not a ledger, a wrong prefix, a bad prefix and a negative limit each get one clear line",
    () =>
      Effect.gen(function*() {
        const junk = join(dir, "junk.db")
        writeFileSync(junk, "not a database at all ".repeat(200))
        const cases = yield* Effect.promise(() =>
          Promise.all([
            cli(["ledger", "summary", "--db", junk]),
            cli(["ledger", "summary", "--db", db, "--table-prefix", "nope_"]),
            cli(["ledger", "summary", "--db", db, "--table-prefix", "1 bad"]),
            cli(["ledger", "failures", "--db", db, "--limit", "-3"])
          ])
        )
        // a ledger that cannot be read is a runtime error (1); a flag value its schema refuses, a usage error (2)
        const expected = [
          [1, "agentarmour: ", "is not an SQLite database"],
          [1, "agentarmour: ", `no table nope_failures`],
          [2, "--table-prefix: ", "invalid tablePrefix \"1 bad\""],
          [2, "--limit: ", "must be between 1 and 100000, got -3"]
        ] as const
        for (const [i, r] of cases.entries()) {
          const [code, start, text] = expected[i]!
          expect(r.code).toBe(code)
          expect(r.stderr.startsWith(start)).toBe(true)
          expect(r.stderr).toContain(text)
          expect(r.stderr.trim().split("\n")).toHaveLength(1)
          expect(r.stderr).not.toMatch(/\n\s+at /)
        }
      }),
    60_000
  )

  it.live("--help and --version work, and an unknown flag fails without a stack trace", () =>
    Effect.gen(function*() {
      const [help, version, bad] = yield* Effect.promise(() =>
        Promise.all([
          cli(["ledger", "--help"]),
          cli(["--version"]),
          cli(["ledger", "summary", "--db", db, "--frobnicate"])
        ])
      )
      expect(help.code).toBe(0)
      expect(help.stdout).toContain("summary")
      expect(version.stdout.trim()).toMatch(/\d+\.\d+\.\d+/)
      expect(bad.code).toBe(2)
      expect(bad.stderr.trim()).toBe("Received unknown argument: '--frobnicate'")
      expect(bad.stdout + bad.stderr).not.toMatch(/\n\s+at /)
    }), 60_000)

  it.live(
    "dashboard: a missing database and a port in use are one clear line each, exit code 1",
    () =>
      Effect.gen(function*() {
        const missing = yield* Effect.promise(() => cli(["dashboard", "--db", join(dir, "missing.db")]))
        expect(missing.code).toBe(1)
        expect(missing.stderr.trim()).toBe(`agentarmour: no ledger at ${join(dir, "missing.db")}`)
        const { createServer } = yield* Effect.promise(() => import("node:net"))
        const blocker = createServer()
        const port = yield* Effect.promise(() =>
          new Promise<number>((resolve) =>
            blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port))
          )
        )
        const busy = yield* Effect.promise(() => cli(["dashboard", "--db", db, "--port", String(port)]))
        blocker.close()
        expect(busy.code).toBe(1)
        expect(busy.stderr.trim()).toBe(`agentarmour: port ${port} is already in use on 127.0.0.1`)
      }),
    60_000
  )

  it.live(
    "help and errors carry no colour when piped, nor with NO_COLOR on a terminal; colour on a terminal",
    () =>
      Effect.gen(function*() {
        const piped = yield* Effect.promise(() =>
          Promise.all([cli(["--help"]), cli(["ledger", "bogus"]), cli(["ledger", "summary", "--help"])])
        )
        for (const r of piped) expect(r.stdout + r.stderr).not.toContain("\x1b")
        expect(piped[0]!.stdout).toContain("COMMANDS")
        // `script` gives the child a pseudo-terminal
        const tty = (env: Record<string, string | undefined>) =>
          exec("script", ["-qec", `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} --help`, "/dev/null"], {
            env: { ...process.env, NO_COLOR: undefined, ...env }
          }).then((r) => r.stdout)
        const [coloured, noColour] = yield* Effect.promise(() => Promise.all([tty({}), tty({ NO_COLOR: "1" })]))
        expect(coloured).toContain("\x1b[")
        expect(noColour).toContain("COMMANDS")
        expect(noColour).not.toContain("\x1b")
      }),
    60_000
  )

  it.live(
    "an unknown command names what was given and the commands of its group; a top-level flag, the commands; exit 2",
    () =>
      Effect.gen(function*() {
        const [sub, flag, top] = yield* Effect.promise(() =>
          Promise.all([
            cli(["ledger", "bogus"]),
            cli(["--frobnicate"]),
            cli(["bogus"])
          ])
        )
        expect(sub.code).toBe(2)
        expect(sub.stderr.trim()).toBe(
          "Invalid subcommand for ledger: 'bogus' - use one of 'failures', 'prune', 'summary', 'tools', 'transitions', 'usage'"
        )
        expect(flag.code).toBe(2)
        expect(flag.stderr.trim()).toBe("Invalid subcommand for agentarmour - use one of 'ledger', 'dashboard', 'demo'")
        expect(top.code).toBe(2)
        expect(top.stderr.trim()).toBe(
          "Invalid subcommand for agentarmour: 'bogus' - use one of 'dashboard', 'demo', 'ledger'"
        )
        for (const r of [sub, flag, top]) expect(r.stdout).toBe("")
      }),
    60_000
  )

  it.live("a bad flag value is a usage error (exit 2); a runtime error exits 1", () =>
    Effect.gen(function*() {
      const [badValue, runtime] = yield* Effect.promise(() =>
        Promise.all([
          cli(["ledger", "failures", "--db", db, "--limit", "abc"]),
          cli(["ledger", "summary", "--db", join(dir, "nope.db")])
        ])
      )
      expect(badValue.code).toBe(2)
      expect(badValue.stderr.trim()).toBe("'abc' is not a integer")
      expect(runtime.code).toBe(1)
    }), 60_000)

  it.live(
    "help describes every option in its own words and hides @effect/cli's built-in options",
    () =>
      Effect.gen(function*() {
        const helps = yield* Effect.promise(() =>
          Promise.all([
            cli(["--help"]),
            cli(["ledger", "failures", "--help"]),
            cli(["dashboard", "--help"]),
            cli(["demo", "--help"])
          ])
        )
        const all = helps.map((h) => h.stdout).join("\n")
        for (const h of helps) expect(h.code).toBe(0)
        for (const builtIn of ["--wizard", "--completions", "--log-level"]) expect(all).not.toContain(builtIn)
        expect(helps[1]!.stdout).toContain("$ failures [--db FILE] [--table-prefix PREFIX] [--json] [--breaker NAME]")
        expect(helps[1]!.stdout).toContain("Show only the records of the breaker with this name.")
        expect(helps[2]!.stdout).toContain("0 picks a free port")
        expect(helps[3]!.stdout).toContain("--runs N")
      }),
    60_000
  )

  it.live("tables escape control characters from the ledger; JSON keeps them exact", () =>
    Effect.gen(function*() {
      const evilDb = join(dir, "evil.db")
      const evil = "evil\x1b[2J\nname\u202e"
      const scope = yield* Scope.make()
      const ctx = yield* Layer.buildWithScope(SqliteLedger.layer({ filename: evilDb }), scope)
      const ledger = Context.get(ctx, Ledger.Ledger)
      yield* ledger.recordFailure(
        new Ledger.FailureRecord({
          breakerName: evil,
          category: "exception",
          errorType: "Err\x07",
          errorMessage: "bad\x1b]0;title\x07",
          traceback: "",
          createdAt: new Date(Date.UTC(2026, 10, 1, 12))
        })
      )
      yield* Scope.close(scope, Exit.void)
      const [summary, failures, json] = yield* Effect.promise(() =>
        Promise.all([
          cli(["ledger", "summary", "--db", evilDb]),
          cli(["ledger", "failures", "--db", evilDb]),
          cli(["ledger", "failures", "--db", evilDb, "--json"])
        ])
      )
      for (const r of [summary, failures]) {
        expect(r.code).toBe(0)
        // eslint-disable-next-line no-control-regex
        expect(r.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/)
        expect(r.stdout.trim().split("\n")).toHaveLength(3) // header, rule, one row
      }
      expect(summary.stdout).toContain("evil\\x1b[2J\\nname\\u202e")
      expect(failures.stdout).toContain("bad\\x1b]0;title\\x07")
      expect(JSON.parse(json.stdout)[0]).toMatchObject({
        breakerName: evil,
        errorType: "Err\x07",
        errorMessage: "bad\x1b]0;title\x07"
      })
    }), 60_000)

  it.live(
    "dashboard --port 0 prints the port it really listens on, and SIGTERM exits 143",
    () =>
      Effect.gen(function*() {
        const child = spawn(process.execPath, [bin, "dashboard", "--db", db, "--port", "0"], { cwd: root })
        let out = ""
        child.stdout.on("data", (chunk) => (out += String(chunk)))
        const url = yield* Effect.promise(() => waitFor(() => /http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[0], 45_000))
        expect(url).not.toBe("http://127.0.0.1:0")
        const res = yield* Effect.promise(() => fetch(`${url}/api/summary`))
        expect(res.status).toBe(200)
        child.kill("SIGTERM")
        const code = yield* Effect.promise(() => exited(child))
        expect(code).toBe(143)
      }),
    60_000
  )

  for (const [signal, expected] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    it.live(
      `dashboard with an open /events client exits on ${signal} (${expected}), and the client's stream ends`,
      () =>
        Effect.gen(function*() {
          const child = spawn(process.execPath, [bin, "dashboard", "--db", db, "--port", "0"], { cwd: root })
          let out = ""
          child.stdout.on("data", (chunk) => (out += String(chunk)))
          const url = yield* Effect.promise(() => waitFor(() => /http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[0], 45_000))
          // an SSE client that never goes away (curl -N .../events)
          const events = yield* Effect.promise(() => fetch(`${url}/events`))
          const reader = events.body!.getReader()
          const first = yield* Effect.promise(() => reader.read())
          expect(new TextDecoder().decode(first.value)).toMatch(/^event: snapshot/)
          const ended = (async () => {
            try {
              while (!(await reader.read()).done);
              return "ended"
            } catch {
              return "reset"
            }
          })()
          const code = exited(child)
          child.kill(signal)
          // before 0.2.1 the process was still alive 60 s later; the test's own timeout bounds this wait
          expect(yield* Effect.promise(() => code)).toBe(expected)
          expect(yield* Effect.promise(() => ended)).toBe("ended")
        }),
      90_000
    )
  }

  it.live("demo --db X: the next: hints name --db X", () =>
    Effect.gen(function*() {
      const demoDb = join(dir, "my demo.db")
      const r = yield* Effect.promise(() => cli(["demo", "--db", demoDb, "--runs", "2"]))
      expect(r.code).toBe(0)
      const next = r.stdout.slice(r.stdout.indexOf("next:"))
      expect(next).toContain(`ledger summary --db '${demoDb}'`)
      expect(next).toContain(`ledger failures --breaker research --db '${demoDb}'`)
      expect(next).toContain(`dashboard --db '${demoDb}'`)
    }), 90_000)

  for (const [signal, expected] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it.live(
      `demo stops on ${signal} with exit code ${expected}, having flushed its ledger`,
      () =>
        Effect.gen(function*() {
          const demoDb = join(dir, `demo-${signal}.db`)
          const child = spawn(process.execPath, [bin, "demo", "--db", demoDb], { cwd: root })
          let out = ""
          child.stdout.on("data", (chunk) => (out += String(chunk)))
          // run 4 is the first where the extractor hangs and its breaker records a timeout
          yield* Effect.promise(() => waitFor(() => (/run {2}6 /.test(out) ? true : undefined), 60_000))
          child.kill(signal)
          const code = yield* Effect.promise(() => exited(child))
          expect(code).toBe(expected)
          expect(out).toContain("interrupted after")
          expect(out).not.toContain("run 50")
          const failures = yield* Effect.promise(() => cli(["ledger", "failures", "--db", demoDb, "--json"]))
          expect(JSON.parse(failures.stdout).length).toBeGreaterThan(0)
        }),
      90_000
    )
  }

  it.live(
    "--version loads nothing but package.json; --help loads no SQLite, LangGraph or HTTP server code",
    () =>
      Effect.gen(function*() {
        const hooks = join(dir, "hooks.mjs")
        const register = join(dir, "register.mjs")
        writeFileSync(
          hooks,
          `import { appendFileSync } from "node:fs"
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context)
  appendFileSync(process.env.LOADED_LOG, r.url + "\\n")
  return r
}
`
        )
        writeFileSync(
          register,
          `import { register } from "node:module"\nregister(${JSON.stringify(`file://${hooks}`)})\n`
        )
        const loaded = async (args: ReadonlyArray<string>) => {
          const log = join(dir, `loaded-${args[0]!.replace(/\W/g, "")}.log`)
          writeFileSync(log, "")
          // a missing ledger still loads the SQLite driver to find out
          await exec(process.execPath, ["--import", `file://${register}`, bin, ...args], {
            env: { ...process.env, LOADED_LOG: log }
          })
            .catch(() => undefined)
          return readFileSync(log, "utf8")
        }
        const [version, help, summary] = yield* Effect.promise(() =>
          Promise.all([
            loaded(["--version"]),
            loaded(["--help"]),
            loaded(["ledger", "summary", "--db", join(dir, "nothing.db")])
          ])
        )
        expect(version).toContain("dist/src/cli/main.js")
        expect(version).not.toContain("node_modules")
        expect(help).toContain("@effect/cli")
        // NodeRuntime, the file system, path and terminal run every command; the HTTP server only `dashboard`
        for (const heavy of ["better-sqlite3", "sql-sqlite-node", "@langchain", "NodeHttpServer", "undici"]) {
          expect(help).not.toContain(heavy)
        }
        expect(summary).toContain("sql-sqlite-node")
        for (const heavy of ["@langchain", "NodeHttpServer", "undici"]) expect(summary).not.toContain(heavy)
      }),
    60_000
  )
})

/** polls `f` until it returns a value */
const waitFor = <A>(f: () => A | undefined, timeoutMs: number) =>
  new Promise<A>((resolve, reject) => {
    const started = Date.now()
    const tick = () => {
      const a = f()
      if (a !== undefined) return resolve(a)
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out after ${timeoutMs} ms`))
      setTimeout(tick, 50)
    }
    tick()
  })

/** the exit code of a child, or 128 + n when a signal killed it */
const exited = (child: ReturnType<typeof spawn>) =>
  new Promise<number>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : -1)))
  )
