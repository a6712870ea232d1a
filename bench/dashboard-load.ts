/**
 * The dashboard under load: `node --import tsx bench/dashboard-load.ts`.
 *
 * Generates a SQLite ledger of about 1,000,000 rows with SQL (`WITH RECURSIVE`:
 * 1,000,000 failures over 30 days, 10,000 transitions and fallbacks, a week of
 * per-minute call statistics for 5 breakers), serves it with
 * `agentarmour dashboard` in a child process on 127.0.0.1, then at once opens
 * 200 SSE clients on `/events` and sends `/api/summary` at 100 requests a
 * second (open loop) for 10 seconds. Reports the p50/p99/max latency of
 * `/api/summary` (target p99 <= 250 ms) and the time until every SSE client got
 * its first snapshot (target <= 2 s), and writes `bench/results/dashboard.json`.
 * Bounded: the whole run is stopped after 60 seconds.
 *
 * Options (env): CLIENTS (200), RATE (100 req/s), SECONDS (10), ROWS (1000000).
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import { createServer } from "node:net"
import * as os from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

import Database from "better-sqlite3"
import { Effect } from "effect"

import { Ledger } from "../src/index.js"
import { SqliteLedger } from "../src/sqlite/index.js"

const CLIENTS = Number(process.env["CLIENTS"] ?? 200)
const RATE = Number(process.env["RATE"] ?? 100)
const SECONDS = Number(process.env["SECONDS"] ?? 10)
const ROWS = Number(process.env["ROWS"] ?? 1_000_000)
const HOST = "127.0.0.1"
const root = fileURLToPath(new URL("..", import.meta.url))
const dir = mkdtempSync(join(os.tmpdir(), "agentarmour-dash-load-"))
const db = join(dir, "cascadebreaker.db")

const deadline = setTimeout(() => {
  console.error("dashboard-load: stopped after 60 s")
  cleanup()
  process.exit(1)
}, 60_000)
deadline.unref()

let child: ReturnType<typeof spawn> | undefined
const cleanup = () => {
  child?.kill("SIGTERM")
  if (process.env["KEEP"] === undefined) rmSync(dir, { recursive: true, force: true })
  else console.error(`kept ${db}`)
}

/** the ledger's own migrations create the tables, then SQL fills them */
const generate = async () => {
  await Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(Ledger.Ledger, (l) => l.flush).pipe(Effect.provide(SqliteLedger.layer({ filename: db })))
    )
  )
  const sqlite = new Database(db)
  sqlite.pragma("journal_mode = WAL")
  sqlite.pragma("synchronous = OFF")
  const started = performance.now()
  const tables = new Set(
    (sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) =>
      r.name
    )
  )
  const series = (n: number) => `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})`
  // ids grow with time, as the writer appends them; the newest row is a few seconds old
  const at = (n: number, spanSeconds: number) =>
    `strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ((${n} - i) * ${spanSeconds / n} + 5) || ' seconds')`
  sqlite.exec("BEGIN")
  sqlite.exec(`INSERT INTO cb_failures (breaker_name, category, error_type, error_message, traceback, created_at)
    ${series(ROWS)} SELECT 'node-' || (i % 5), CASE WHEN i % 7 = 0 THEN 'timeout' ELSE 'exception' END, 'AgentError',
    'the model returned garbage #' || i, 'AgentError: the model returned garbage' || char(10) || '    at node', ${
    at(ROWS, 30 * 86400)
  } FROM n`)
  sqlite.exec(`INSERT INTO cb_transitions (breaker_name, from_state, to_state, reason, created_at)
    ${series(10_000)} SELECT 'node-' || (i % 5), CASE WHEN i % 2 = 0 THEN 'OPEN' ELSE 'CLOSED' END,
    CASE WHEN i % 2 = 0 THEN 'CLOSED' ELSE 'OPEN' END, '3 failures within 60 s', ${at(10_000, 30 * 86400)} FROM n`)
  sqlite.exec(`INSERT INTO cb_fallbacks (breaker_name, strategy, created_at)
    ${series(10_000)} SELECT 'node-' || (i % 5), CASE WHEN i % 3 = 0 THEN 'degrade' ELSE 'cache' END, ${
    at(10_000, 30 * 86400)
  } FROM n`)
  if (tables.has("cb_stats")) {
    // one row per breaker and minute over 7 days
    sqlite.exec(
      `INSERT OR REPLACE INTO cb_stats (breaker_name, minute, calls, failures, rejections, timeouts, slow_calls)
      ${series(7 * 1440)}, b(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM b WHERE k < 4)
      SELECT 'node-' || k, strftime('%Y-%m-%dT%H:%M:00.000Z', 'now', '-' || i || ' minutes'),
        20 + (i * (k + 3)) % 40, (i * (k + 1)) % 5, CASE WHEN i % 97 < 5 THEN 3 ELSE 0 END, i % 2, i % 3 FROM n, b`
    )
  }
  sqlite.exec("COMMIT")
  const count = (t: string) => (sqlite.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n
  const rows = ["cb_failures", "cb_transitions", "cb_fallbacks", "cb_stats"].filter((t) => tables.has(t))
    .reduce((n, t) => n + count(t), 0)
  sqlite.close()
  return { rows, seconds: (performance.now() - started) / 1000 }
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, HOST, () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })

const startServer = (port: number) =>
  new Promise<void>((resolve, reject) => {
    // the built CLI when there is one (as users run it), else the sources through tsx
    const built = existsSync(join(root, "dist/src/cli/main.js"))
    const cli = built ? [join(root, "bin/agentarmour.js")] : ["--import", "tsx", join(root, "src/cli/main.ts")]
    console.error(`serving with ${built ? "the built CLI (dist/)" : "the sources (tsx)"}`)
    child = spawn(
      process.execPath,
      [...cli, "dashboard", "--db", db, "--port", String(port), "--host", HOST],
      { cwd: root, stdio: ["ignore", "pipe", "inherit"] }
    )
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("http://") && resolve())
    child.on("exit", (code) => reject(new Error(`the dashboard exited with code ${code}`)))
  })

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

const main = async () => {
  const generated = await generate()
  console.error(`generated ${generated.rows} rows in ${generated.seconds.toFixed(1)} s`)
  const port = await freePort()
  const serverStarted = performance.now()
  await startServer(port)
  const serverReadySeconds = (performance.now() - serverStarted) / 1000
  const base = `http://${HOST}:${port}`
  // warm-up, not measured: the page, a summary and one SSE client load the modules the first requests need
  const fetchText = (path: string) =>
    new Promise<void>((resolve) => http.get(`${base}${path}`, (res) => res.resume().on("end", () => resolve())))
  for (const path of ["/", "/assets/dashboard.js", "/api/summary", "/api/stats?range=7d", "/metrics"]) {
    await fetchText(path)
  }
  await new Promise<void>((resolve) => {
    const req = http.get(`${base}/events`, (res) => res.once("data", () => (req.destroy(), resolve())))
  })
  await new Promise((r) => setTimeout(r, 500))

  const t0 = performance.now()
  const sockets: Array<http.ClientRequest> = []
  const firstSnapshot = Array.from({ length: CLIENTS }, (_, i) =>
    new Promise<number>((resolve) => {
      const req = http.get(`${base}/events`, { agent: false }, (res) => {
        let buffer = ""
        res.on("data", (chunk: Buffer) => {
          if (buffer === null) return
          buffer += chunk.toString()
          if (buffer.includes("event: snapshot\n")) {
            resolve(performance.now() - t0)
            buffer = null as unknown as string
          }
        })
      })
      req.on("error", () => resolve(Infinity))
      sockets[i] = req
    }))

  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const latencies: Array<number> = []
  let failed = 0
  const errors = new Set<string>()
  const timeline: Array<[number, number]> = []
  const total = RATE * SECONDS
  const requests: Array<Promise<void>> = []
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE
    const wait = due - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    const sent = performance.now()
    requests.push(
      new Promise<void>((resolve) => {
        let done = false
        const finish = (ok: boolean) => {
          if (done) return
          done = true
          if (ok) latencies.push(performance.now() - sent)
          else failed++
          if (process.env["TRACE"]) timeline.push([Math.round(sent - t0), Math.round(performance.now() - sent)])
          resolve()
        }
        const req = http.get(`${base}/api/summary`, { agent }, (res) => {
          res.resume()
          res.on("end", () => {
            if (res.statusCode !== 200) errors.add(`HTTP ${res.statusCode}`)
            finish(res.statusCode === 200)
          })
        })
        const timer = setTimeout(() => (finish(false), req.destroy()), 10_000)
        req.on("close", () => clearTimeout(timer))
        req.on("error", (e) => {
          errors.add(e.message)
          finish(false)
        })
      })
    )
  }
  await Promise.all(requests)
  const firsts = await Promise.race([
    Promise.all(firstSnapshot),
    new Promise<Array<number>>((r) => setTimeout(() => r([]), 5_000))
  ])
  for (const s of sockets) s.destroy()
  agent.destroy()

  if (process.env["TRACE"]) {
    const perSecond = new Map<number, number>()
    for (const [at, ms] of timeline) {
      perSecond.set(Math.floor(at / 1000), Math.max(perSecond.get(Math.floor(at / 1000)) ?? 0, ms))
    }
    console.error("max latency per second of the run:", JSON.stringify(Array.from(perSecond)))
  }
  latencies.sort((a, b) => a - b)
  const firstSorted = [...firsts].sort((a, b) => a - b)
  const result = {
    name: "dashboard: 200 SSE clients + /api/summary at 100 req/s on a 1,000,000-row SQLite ledger",
    ledgerRows: generated.rows,
    generateSeconds: Number(generated.seconds.toFixed(2)),
    serverReadySeconds: Number(serverReadySeconds.toFixed(2)),
    sseClients: CLIENTS,
    sseClientsWithSnapshot: firsts.filter(Number.isFinite).length,
    firstSnapshotMsMax: Math.round(firstSorted.at(-1) ?? NaN),
    firstSnapshotMsP50: Math.round(percentile(firstSorted, 50)),
    summaryRequests: total,
    summaryOk: latencies.length,
    summaryFailed: failed,
    summaryErrors: Array.from(errors),
    summaryMsP50: Number(percentile(latencies, 50).toFixed(1)),
    summaryMsP99: Number(percentile(latencies, 99).toFixed(1)),
    summaryMsMax: Number((latencies.at(-1) ?? NaN).toFixed(1)),
    targets: "p99 <= 250 ms; every client's first snapshot <= 2000 ms",
    pass: percentile(latencies, 99) <= 250 && failed === 0 && firsts.length === CLIENTS &&
      (firstSorted.at(-1) ?? Infinity) <= 2000,
    node: process.version,
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    /** the machine's 1-minute load average when the run ended: on a shared machine, compare runs with it */
    loadAverage: Number(os.loadavg()[0]!.toFixed(1))
  }
  console.log(JSON.stringify(result, null, 2))
  mkdirSync(join(root, "bench/results"), { recursive: true })
  writeFileSync(join(root, "bench/results/dashboard.json"), JSON.stringify(result, null, 2) + "\n")
  console.error("wrote bench/results/dashboard.json")
}

main().then(
  () => {
    cleanup()
    process.exit(0)
  },
  (e) => {
    console.error(e)
    cleanup()
    process.exit(1)
  }
)
