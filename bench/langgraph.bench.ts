/**
 * What `protectNode` adds to a real LangGraph `StateGraph` `invoke`: a
 * 4-node chain of plain nodes against the same chain with every node
 * protected (a breaker with default options, the default cache fallback),
 * and against one bare Effect fiber per node (the floor of any Effect-based
 * node). Target (DESIGN, "LangGraph adapter 0.2"): at most 100 µs per
 * protected node.
 *
 * Each graph runs in its own process (`bench/langgraph-worker.ts`), as an
 * application runs its graph; the three kinds alternate, `rounds` processes
 * each, and the medians are compared, so all see the same machine load.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

import type { Row } from "./index.js"

const NODES = 4
const worker = fileURLToPath(new URL("./langgraph-worker.ts", import.meta.url))

interface Sample {
  readonly wall: number
  readonly cpu: number
}

const sample = (kind: string, invokes: number): Sample =>
  JSON.parse(
    execFileSync(process.execPath, ["--import", "tsx", worker, kind, String(invokes)], { encoding: "utf8" }).trim()
      .split("\n")
      .pop()!
  ) as Sample

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const rounds = Number(process.env["BENCH_LANGGRAPH_ROUNDS"] ?? 5)
  const invokes = Number(process.env["BENCH_LANGGRAPH_INVOKES"] ?? 1000)
  const samples: Record<"plain" | "fiber" | "protected", Array<Sample>> = { plain: [], fiber: [], protected: [] }
  for (let r = 0; r < rounds; r++) {
    for (const kind of ["plain", "protected", "fiber"] as const) samples[kind].push(sample(kind, invokes))
  }
  const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const wall = (k: keyof typeof samples) => median(samples[k].map((s) => s.wall))
  const cpu = (k: keyof typeof samples) => median(samples[k].map((s) => s.cpu))
  const p = wall("plain")
  const q = wall("protected")
  const f = wall("fiber")
  const perNodeUs = (q - p) / NODES / 1000
  return [
    { name: "LangGraph invoke, 4 plain nodes", nsPerOp: p, cpuNs: cpu("plain") },
    {
      name: "LangGraph invoke, 4 nodes each running one bare Effect fiber",
      nsPerOp: f,
      cpuNs: cpu("fiber"),
      ratio: f / p
    },
    {
      name: "LangGraph invoke, 4 protected nodes (breaker + default cache)",
      nsPerOp: q,
      cpuNs: cpu("protected"),
      ratio: q / p
    },
    {
      name: "protectNode overhead per node (target <= 100 µs)",
      nsPerOp: (q - p) / NODES,
      perNodeUs,
      perNodeCpuUs: (cpu("protected") - cpu("plain")) / NODES / 1000,
      overBareFiberUs: (q - f) / NODES / 1000,
      processesPerKind: rounds,
      library: process.env["BENCH_FROM_SRC"] === "1" ? "src (tsx)" : "dist",
      meetsTarget: perNodeUs <= 100
    }
  ]
}
