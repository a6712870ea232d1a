/**
 * `npm run bench`: runs every `bench/*.bench.ts`, prints a markdown table
 * and writes `bench/results/latest.json` (an array of `{ name, nsPerOp }`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { fileURLToPath, pathToFileURL } from "node:url"

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
  for (const row of await mod.run()) rows.push(row)
}

const fmt = (n: unknown) => (typeof n === "number" ? (n >= 100 ? n.toFixed(0) : n.toFixed(2)) : "")
console.log(`\n| benchmark | ns/op | notes |\n|---|---:|---|`)
for (const r of rows) {
  const { name, nsPerOp, ...rest } = r
  const notes = Object.entries(rest).map(([k, v]) => `${k}: ${typeof v === "number" ? fmt(v) : String(v)}`).join(", ")
  console.log(`| ${name} | ${fmt(nsPerOp)} | ${notes} |`)
}
mkdirSync(`${dir}results`, { recursive: true })
const fresh = rows.map((r) => ({ ...r, node: process.version, cpu: os.cpus()[0]?.model ?? "unknown" }))
// a filtered run (`npm run bench cli`) replaces its own rows and keeps the others'
const latest = `${dir}results/latest.json`
const kept: Array<Row> = only === undefined || !existsSync(latest)
  ? []
  : (JSON.parse(readFileSync(latest, "utf8")) as Array<Row>).filter((r) => !rows.some((n) => n.name === r.name))
writeFileSync(latest, JSON.stringify([...kept, ...fresh], null, 2) + "\n")
console.error(
  `\nwrote bench/results/latest.json (${fresh.length} rows${kept.length > 0 ? `, kept ${kept.length}` : ""})`
)
