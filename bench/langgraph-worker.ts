/**
 * One process of `bench/langgraph.bench.ts`: builds one kind of 4-node
 * `StateGraph` chain, warms it up, times `invoke` and prints
 * `{ wall, cpu }` (ns per invoke) as JSON. Each kind runs in its own
 * process, as in an application that runs only that graph: graphs of
 * several kinds in one process make LangGraph's and Effect's code
 * polymorphic and slow each other down.
 *
 * `node --import tsx bench/langgraph-worker.ts <plain|fiber|protected> <invokes>`
 */
import { Annotation, END, START, StateGraph } from "@langchain/langgraph"
import { Effect } from "effect"

import { langgraph } from "./lib.js"

const { CascadeAnnotation, LangGraphBridge, protectNode } = langgraph

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

const kind = process.argv[2] ?? "plain"
const invokes = Number(process.argv[3] ?? 600)
const bridge = LangGraphBridge.make()
const graph = kind === "protected"
  ? chain((name, node) => protectNode(bridge, node, { breaker: { name } }))
  : kind === "fiber"
  // the floor of any Effect-based node: one bare fiber per node call
  ? chain((_, node) => (s: S) =>
    new Promise((resolve) =>
      Effect.runFork(Effect.sync(() => node(s))).addObserver((exit) =>
        resolve(exit._tag === "Success" ? exit.value : {})
      )
    )
  )
  : chain((_, node) => node)

for (let i = 0; i < Math.max(200, invokes / 2); i++) await graph.invoke({ n: 0 })
const t0 = performance.now()
const c0 = process.cpuUsage()
for (let i = 0; i < invokes; i++) await graph.invoke({ n: 0 })
const c = process.cpuUsage(c0)
const result = { wall: ((performance.now() - t0) * 1e6) / invokes, cpu: ((c.user + c.system) * 1e3) / invokes }
await bridge.dispose()
process.stdout.write(JSON.stringify(result) + "\n")
