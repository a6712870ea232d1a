/**
 * What `protectNode` adds to a real LangGraph `StateGraph` `invoke`: a
 * 4-node chain of plain nodes against the same chain with every node
 * protected (a breaker with default options, the default cache fallback).
 * Target (DESIGN, "LangGraph adapter 0.2"): at most 100 µs per protected node.
 * Plain and protected runs alternate in rounds so both see the same machine load.
 */
import { Annotation, END, START, StateGraph } from "@langchain/langgraph"
import { Effect } from "effect"

import { CascadeAnnotation, LangGraphBridge, protectNode } from "../src/langgraph/index.js"
import type { Row } from "./index.js"

const State = Annotation.Root({ ...CascadeAnnotation, n: Annotation<number>() })
type S = typeof State.State
const NODES = ["a", "b", "c", "d"] as const

const chain = (wrap: (name: string, node: (s: S) => Partial<S>) => any) => {
  let g: any = new StateGraph(State)
  for (const name of NODES) g = g.addNode(name, wrap(name, (s: S) => ({ n: s.n + 1 })))
  g = g.addEdge(START, NODES[0])
  for (let i = 1; i < NODES.length; i++) g = g.addEdge(NODES[i - 1], NODES[i])
  return g.addEdge(NODES[NODES.length - 1], END).compile()
}

/** wall and CPU ns per invoke (CPU time is what this process spent: less sensitive to a busy machine) */
const time = async (graph: { invoke: (input: unknown) => Promise<unknown> }, n: number) => {
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  for (let i = 0; i < n; i++) await graph.invoke({ n: 0 })
  const c = process.cpuUsage(c0)
  return { wall: ((performance.now() - t0) * 1e6) / n, cpu: ((c.user + c.system) * 1e3) / n }
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const bridge = LangGraphBridge.make()
  const plain = chain((_, node) => node)
  const protectedGraph = chain((name, node) => protectNode(bridge, node, { breaker: { name } }))
  // the floor of any Effect-based node: one bare fiber per node call
  const fiberGraph = chain((_, node) => (s: S) =>
    new Promise((resolve) =>
      Effect.runFork(Effect.sync(() => node(s))).addObserver((exit) =>
        resolve(exit._tag === "Success" ? exit.value : {})
      )
    )
  )
  const rounds = Number(process.env["BENCH_LANGGRAPH_ROUNDS"] ?? 6)
  const perRound = 150
  await time(plain, 200) // warm-up
  await time(protectedGraph, 200)
  const plainNs: Array<{ wall: number; cpu: number }> = []
  const protectedNs: Array<{ wall: number; cpu: number }> = []
  const fiberNs: Array<{ wall: number; cpu: number }> = []
  await time(fiberGraph, 200)
  for (let r = 0; r < rounds; r++) {
    plainNs.push(await time(plain, perRound))
    protectedNs.push(await time(protectedGraph, perRound))
    fiberNs.push(await time(fiberGraph, perRound))
  }
  await bridge.dispose()
  const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const p = median(plainNs.map((x) => x.wall))
  const q = median(protectedNs.map((x) => x.wall))
  const pc = median(plainNs.map((x) => x.cpu))
  const qc = median(protectedNs.map((x) => x.cpu))
  const f = median(fiberNs.map((x) => x.wall))
  const fc = median(fiberNs.map((x) => x.cpu))
  const perNodeUs = (q - p) / NODES.length / 1000
  const perNodeCpuUs = (qc - pc) / NODES.length / 1000
  return [
    { name: "LangGraph invoke, 4 plain nodes", nsPerOp: p, cpuNs: pc },
    { name: "LangGraph invoke, 4 nodes each running one bare Effect fiber", nsPerOp: f, cpuNs: fc, ratio: f / p },
    { name: "LangGraph invoke, 4 protected nodes (breaker + default cache)", nsPerOp: q, cpuNs: qc, ratio: q / p },
    {
      name: "protectNode overhead per node (target <= 100 µs)",
      nsPerOp: (q - p) / NODES.length,
      perNodeUs,
      perNodeCpuUs,
      overBareFiberUs: (q - f) / NODES.length / 1000,
      meetsTarget: perNodeUs <= 100
    }
  ]
}
