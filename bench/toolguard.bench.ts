/**
 * Per-call cost of `guard.run` (check the call, the tool's breaker, record
 * the decision) over calling the tool's effect directly. Target: ≤ 20 µs
 * added. Arguments as an object and as the model's JSON string. `addedUs`
 * is wall time; `addedCpuUs` is the process's CPU time per call, which a
 * busy machine inflates less (the other processes' time is not counted).
 */
import { Effect, Layer, ManagedRuntime, Schema } from "effect"

import type { Row } from "./index.js"
import { core, source } from "./lib.js"

const N = 20_000
const REPS = 5

const loop = async (runtime: ManagedRuntime.ManagedRuntime<never, never>, body: Effect.Effect<unknown, unknown>) => {
  const program = Effect.gen(function*() {
    for (let i = 0; i < N; i++) yield* Effect.either(body)
  })
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  await runtime.runPromise(program)
  const cpu = process.cpuUsage(c0)
  return { wall: ((performance.now() - t0) * 1e6) / N, cpu: ((cpu.user + cpu.system) * 1e3) / N }
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const { Ledger, ToolGuard } = core
  const runtime = ManagedRuntime.make(Layer.empty)
  const rows: Array<Row> = []
  for (const [label, layer] of [["noop ledger", Ledger.layerNoop], ["memory ledger", Ledger.layerMemory]] as const) {
    const guard = await runtime.runPromise(
      ToolGuard.make({
        tools: { search: { args: Schema.Struct({ query: Schema.String, limit: Schema.Number }) } },
        repeats: { max: 1e9 }
      }).pipe(Effect.provide(layer))
    )
    const execute = (args: { query: string; limit: number }) => Effect.succeed(args.limit)
    const direct = execute({ query: "q", limit: 3 })
    const objectCall = guard.run({ id: "c", name: "search", args: { query: "q", limit: 3 } }, execute)
    const jsonCall = guard.run({ id: "c", name: "search", args: "{\"query\":\"q\",\"limit\":3}" }, execute)
    const bodies = [direct, objectCall, jsonCall]
    const best = bodies.map(() => Infinity)
    const bestCpu = bodies.map(() => Infinity)
    for (const body of bodies) await loop(runtime, body)
    for (let r = 0; r < REPS; r++) {
      for (let i = 0; i < bodies.length; i++) {
        const { cpu, wall } = await loop(runtime, bodies[i]!)
        best[i] = Math.min(best[i]!, wall)
        bestCpu[i] = Math.min(bestCpu[i]!, cpu)
      }
    }
    rows.push(
      { name: `toolguard: tool effect called directly (${label})`, nsPerOp: best[0]!, source },
      {
        name: `toolguard: guard.run, object args (${label})`,
        nsPerOp: best[1]!,
        addedUs: (best[1]! - best[0]!) / 1000,
        addedCpuUs: (bestCpu[1]! - bestCpu[0]!) / 1000,
        ratio: best[1]! / best[0]!,
        source
      },
      {
        name: `toolguard: guard.run, JSON string args (${label})`,
        nsPerOp: best[2]!,
        addedUs: (best[2]! - best[0]!) / 1000,
        addedCpuUs: (bestCpu[2]! - bestCpu[0]!) / 1000,
        ratio: best[2]! / best[0]!,
        source
      }
    )
  }
  await runtime.dispose()
  return rows
}
