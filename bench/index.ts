/**
 * `npm run bench`: runs every `bench/*.bench.ts`, prints a markdown table
 * and writes `bench/results/latest.json` (an array of `{ name, nsPerOp }`).
 */
import { readdirSync, writeFileSync, mkdirSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as os from "node:os"

export interface Row {
  readonly name: string
  readonly nsPerOp?: number
  readonly [k: string]: unknown
}

const dir = fileURLToPath(new URL(".", import.meta.url))
const only = process.argv[2]
const files = readdirSync(dir).filter((f) => f.endsWith(".bench.ts") && (only === undefined || f.includes(only))).sort()
const rows: Array<Row> = []
for (const file of files) {
  const mod = (await import(pathToFileURL(`${dir}${file}`).href)) as { run: () => Promise<ReadonlyArray<Row>> }
  console.error(`running ${file} ...`)
  rows.push(...(await mod.run()))
}

const fmt = (n: unknown) => (typeof n === "number" ? (n >= 100 ? n.toFixed(0) : n.toFixed(2)) : "")
console.log(`\n| benchmark | ns/op | notes |\n|---|---:|---|`)
for (const r of rows) {
  const { name, nsPerOp, ...rest } = r
  const notes = Object.entries(rest).map(([k, v]) => `${k}: ${typeof v === "number" ? fmt(v) : String(v)}`).join(", ")
  console.log(`| ${name} | ${fmt(nsPerOp)} | ${notes} |`)
}
mkdirSync(`${dir}results`, { recursive: true })
writeFileSync(
  `${dir}results/latest.json`,
  JSON.stringify(rows.map((r) => ({ ...r, node: process.version, cpu: os.cpus()[0]?.model ?? "unknown" })), null, 2) + "\n"
)
console.error(`\nwrote bench/results/latest.json (${rows.length} rows)`)
