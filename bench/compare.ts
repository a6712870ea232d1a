/**
 * `npm run bench:compare -- before.json after.json`: the rows of two bench
 * runs side by side, with after/before for ns/op and each numeric note whose
 * name says it is a cost (`*Ns`, `*Us`, `*Ms`, `ms`, `wallMs`). A ratio over
 * `--worse` (default 1.15) is flagged: a row that got worse beyond noise.
 */
import { readFileSync } from "node:fs"

interface Row {
  readonly name: string
  readonly nsPerOp?: number
  readonly [k: string]: unknown
}

const args = process.argv.slice(2)
const worseAt = Number(args.find((a) => a.startsWith("--worse="))?.slice("--worse=".length) ?? "1.15")
const [beforePath, afterPath] = args.filter((a) => !a.startsWith("--"))
if (beforePath === undefined || afterPath === undefined) {
  console.error("usage: npm run bench:compare -- <before.json> <after.json> [--worse=1.15]")
  process.exit(2)
}
const read = (path: string): Map<string, Row> =>
  new Map((JSON.parse(readFileSync(path, "utf8")) as Array<Row>).map((r) => [r.name, r]))
const before = read(beforePath)
const after = read(afterPath)

const isCost = (key: string): boolean => key === "nsPerOp" || /(Ns|Us|Ms|^ms|^wallMs|^totalMs)$/.test(key)
const fmt = (n: number): string => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2))

let worse = 0
console.log("| benchmark | measure | before | after | after/before |\n|---|---|---:|---:|---:|")
for (const [name, a] of after) {
  const b = before.get(name)
  if (b === undefined) {
    console.log(`| ${name} | (new row) | | | |`)
    continue
  }
  for (const key of Object.keys(a).filter(isCost)) {
    const x = b[key]
    const y = a[key]
    if (typeof x !== "number" || typeof y !== "number" || x <= 0 || y <= 0) continue
    const ratio = y / x
    const flag = ratio > worseAt ? " ⚠" : ""
    if (flag) worse++
    console.log(`| ${name} | ${key} | ${fmt(x)} | ${fmt(y)} | ${ratio.toFixed(2)}${flag} |`)
  }
}
for (const name of before.keys()) if (!after.has(name)) console.log(`| ${name} | (gone) | | | |`)
console.log(`\n${worse} measure(s) worse than ${worseAt}x`)
