/**
 * Per-call cost of `withBudget` on the hot path (memory store), against a
 * bare Effect loop, in the same run as the breaker rows. Target: ≤ 1 µs added.
 * Wall and CPU time per call (see `effectLoop`).
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import { Effect, Layer, ManagedRuntime } from "effect"

import { Budget, Ledger, withBudget } from "../src/index.js"
import type { Row } from "./index.js"

const N = 50_000
const REPS = 5

/**
 * ns per op of an Effect that runs `body` n times inside one generator, in
 * wall time and in CPU time (`process.cpuUsage`: all the process's threads,
 * the GC's included). On a busy shared machine wall time counts the stretches
 * the process waits for a core; CPU time does not.
 */
const effectLoop = async (
  runtime: ManagedRuntime.ManagedRuntime<never, never>,
  body: Effect.Effect<unknown, unknown, never>,
  n = N
) => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Effect.either(body)
  })
  const before = process.cpuUsage()
  const t0 = performance.now()
  await runtime.runPromise(loop)
  const wall = ((performance.now() - t0) * 1e6) / n
  const used = process.cpuUsage(before)
  return { wall, cpu: ((used.user + used.system) * 1e3) / n }
}

/**
 * The rows measured round-robin, `REPS` times each, keeping each one's best:
 * on a shared machine the minimum is the least disturbed measurement.
 */
const measure = async (
  runtime: ManagedRuntime.ManagedRuntime<never, never>,
  bodies: ReadonlyArray<Effect.Effect<unknown, unknown, never>>
) => {
  const best = bodies.map(() => ({ wall: Infinity, cpu: Infinity }))
  for (const body of bodies) await effectLoop(runtime, body, 10_000) // warm-up
  for (let r = 0; r < REPS; r++) {
    for (let i = 0; i < bodies.length; i++) {
      const { cpu, wall } = await effectLoop(runtime, bodies[i]!)
      best[i] = { wall: Math.min(best[i]!.wall, wall), cpu: Math.min(best[i]!.cpu, cpu) }
    }
  }
  return best
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const runtime = ManagedRuntime.make(Layer.empty)
  const mk = (options: Budget.BudgetOptions) =>
    runtime.runPromise(Budget.make(options).pipe(Effect.provide(Ledger.layerNoop)))
  const huge = { tokens: 1e15, costUsd: 1e15, calls: 1e15 }
  const runOnly = await mk({ name: "bench-run", perRun: huge })
  const both = await mk({ name: "bench-both", perRun: huge, perWindow: { ...huge, window: "1 minute" } })
  const windowCalls = await mk({ name: "bench-window-calls", perWindow: { calls: 1e15, window: "1 minute" } })
  const windowAmounts = await mk({
    name: "bench-window-amounts",
    perWindow: { tokens: 1e15, costUsd: 1e15, window: "1 minute" }
  })
  const limiter = await runtime.runPromise(RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory)))
  const consume = limiter.consume({
    key: "bench",
    limit: 1e15,
    window: "1 minute",
    tokens: 1,
    onExceeded: "fail",
    algorithm: "fixed-window"
  })
  const body = Effect.succeed(1)
  const charged = Effect.zipRight(Budget.charge({ tokensIn: 10, tokensOut: 5, costUsd: 0.0001 }), body)

  const bodies = {
    "bare Effect.succeed (budget baseline)": body,
    "withBudget per-run limits (tokens, cost, calls)": body.pipe(withBudget(runOnly)),
    "withBudget per-window tokens and cost (memory store)": body.pipe(withBudget(windowAmounts)),
    "withBudget per-window calls (RateLimiter, memory store)": body.pipe(withBudget(windowCalls)),
    "RateLimiter.consume alone (fixed window, memory store), for comparison": Effect.zipRight(consume, body),
    "withBudget per-run + per-window (all limits, memory store)": body.pipe(withBudget(both)),
    "Budget.charge outside withBudget (no-op)": charged,
    "withBudget all limits + one charge per call (memory store, no-op ledger)": charged.pipe(withBudget(both))
  }
  const names = Object.keys(bodies)
  const times = await measure(runtime, Object.values(bodies))
  await runtime.dispose()

  const bare = times[0]!
  return names.map((name, i) => {
    const t = times[i]!
    return i === 0
      ? { name, nsPerOp: t.wall, cpuNs: t.cpu }
      : { name, nsPerOp: t.wall, overheadNs: t.wall - bare.wall, cpuNs: t.cpu, cpuOverheadNs: t.cpu - bare.cpu }
  })
}
