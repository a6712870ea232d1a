/**
 * Reads at volume: a ledger of 1,000,000 failures and 100,000 transitions over
 * 50 breakers (generated in SQL, see ledgerVolume.ts), read through the
 * read-only layer the CLI and the dashboard use, and through the CLI binary.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

import type { Layer } from "effect"
import { Effect, ManagedRuntime } from "effect"

import { Ledger } from "../src/index.js"
import { SqliteLedger } from "../src/sqlite/index.js"
import type { Row } from "./index.js"
import { expectedState, generate } from "./ledgerVolume.js"

const root = fileURLToPath(new URL("..", import.meta.url))

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const dir = mkdtempSync(join(tmpdir(), "agentarmour-bench-read-"))
  const filename = join(dir, "volume.db")
  const volume = { failures: 1_000_000, transitions: 100_000, breakers: 50 }
  const rows: Array<Row> = []
  try {
    const g0 = performance.now()
    await generate(filename, volume)
    rows.push({
      name: "generate a ledger of 1,000,000 failures + 100,000 transitions (WITH RECURSIVE, one transaction)",
      ms: performance.now() - g0
    })

    const rt = ManagedRuntime.make(SqliteLedger.layerReadonly({ filename }) as Layer.Layer<Ledger.Ledger>)
    const time = async <A>(effect: Effect.Effect<A, unknown, Ledger.Ledger>, n: number) => {
      await rt.runPromise(effect) // warm-up (page cache, prepared statements)
      const ms: Array<number> = []
      let last: A | undefined
      for (let i = 0; i < n; i++) {
        const t = performance.now()
        last = await rt.runPromise(effect)
        ms.push(performance.now() - t)
      }
      return { ms: median(ms), last: last! }
    }
    const summary = await time(Effect.flatMap(Ledger.Ledger, (l) => l.summary), 5)
    const agent7 = summary.last.find((s) => s.breakerName === "agent-7")
    if (summary.last.length !== 50 || agent7?.state !== expectedState(volume, 7)) throw new Error("wrong summary")
    rows.push({
      name: "Ledger.summary, 1M failures + 100k transitions, 50 breakers",
      ms: summary.ms,
      target: "<= 100 ms"
    })
    const one = await time(Effect.flatMap(Ledger.Ledger, (l) => l.failures({ breaker: "agent-7", limit: 20 })), 20)
    if (one.last.length !== 20) throw new Error("wrong failures")
    rows.push({ name: "Ledger.failures of one breaker, limit 20, same ledger", ms: one.ms, target: "<= 20 ms" })
    await rt.dispose()

    // the CLI as a user runs it: a fresh process (the built binary when dist/ exists)
    const built = existsSync(join(root, "dist/src/cli/main.js"))
    const args = built
      ? [join(root, "bin/agentarmour.js")]
      : ["--import", "tsx", join(root, "src/cli/main.ts")]
    const cli = () => {
      const t = performance.now()
      const out = execFileSync(process.execPath, [...args, "ledger", "summary", "--db", filename], { encoding: "utf8" })
      if (!out.includes("agent-49")) throw new Error("wrong CLI output")
      return performance.now() - t
    }
    cli()
    rows.push({
      name: `agentarmour ledger summary, same ledger, wall incl. process start (${
        built ? "bin/agentarmour.js" : "tsx src/cli/main.ts"
      })`,
      ms: median([cli(), cli(), cli()]),
      target: "<= 2000 ms"
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}
