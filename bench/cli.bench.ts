/**
 * Start-up cost of the CLI: wall time of `agentarmour --version` (the built
 * bin, which loads nothing but package.json) against `node -e ""` in the
 * same run, alternating, median of N spawns each. Target: at most 8x.
 * `--help` (which loads @effect/cli) is shown for reference. Needs `npm run build`.
 */
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

import type { Row } from "./index.js"

const ROUNDS = 9

const bin = fileURLToPath(new URL("../bin/agentarmour.js", import.meta.url))

const wallMs = (args: ReadonlyArray<string>) => {
  const started = process.hrtime.bigint()
  execFileSync(process.execPath, args, { stdio: "ignore" })
  return Number(process.hrtime.bigint() - started) / 1e6
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export const run = async (): Promise<ReadonlyArray<Row>> => {
  if (!existsSync(fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url)))) {
    console.error("cli.bench: skipped, run `npm run build` first")
    return []
  }
  const node: Array<number> = []
  const version: Array<number> = []
  const help: Array<number> = []
  for (let i = 0; i < ROUNDS; i++) {
    node.push(wallMs(["-e", ""]))
    version.push(wallMs([bin, "--version"]))
    if (i % 3 === 0) help.push(wallMs([bin, "--help"]))
  }
  const base = median(node)
  return [
    { name: "node -e \"\" (process start)", nsPerOp: base * 1e6, wallMs: base },
    {
      name: "agentarmour --version",
      nsPerOp: median(version) * 1e6,
      wallMs: median(version),
      ratioToNode: median(version) / base,
      target: "<= 8x"
    },
    {
      name: "agentarmour --help (loads @effect/cli)",
      nsPerOp: median(help) * 1e6,
      wallMs: median(help),
      ratioToNode: median(help) / base
    }
  ]
}
