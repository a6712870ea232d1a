/**
 * Per-call cost of `withBudget` on the hot path (memory store), against a
 * bare Effect loop, in the same run as the breaker rows. Target: ≤ 1 µs added.
 * Times are CPU time per call (see `effectLoop`).
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import { Effect, Layer, ManagedRuntime } from "effect"
import { Budget, Ledger, withBudget } from "../src/index.js"
import type { Row } from "./index.js"

const N = 50_000
const REPS = 5

/**
 * CPU ns per op of an Effect that runs `body` n times inside one generator.
 * CPU time (`process.cpuUsage`), not wall time: on a shared machine the
 * process is descheduled for long stretches that wall time would count.
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
  await runtime.runPromise(loop)
  const used = process.cpuUsage(before)
  return ((used.user + used.system) * 1e3) / n
}

/**
 * The rows measured round-robin, `REPS` times each, keeping each one's best:
 * on a shared machine the minimum is the least disturbed measurement.
 */
const measure = async (
  runtime: ManagedRuntime.ManagedRuntime<never, never>,
  bodies: ReadonlyArray<Effect.Effect<unknown, unknown, never>>
) => {
  const best = bodies.map(() => Infinity)
  for (const body of bodies) await effectLoop(runtime, body, 10_000) // warm-up
  for (let r = 0; r < REPS; r++) {
    for (let i = 0; i < bodies.length; i++) best[i] = Math.min(best[i]!, await effectLoop(runtime, bodies[i]!))
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

  const [bare, perRun, perWindowCalls, all, bareCharge, allCharged, consumeNs] = (await measure(runtime, [
    body,
    body.pipe(withBudget(runOnly)),
    body.pipe(withBudget(windowCalls)),
    body.pipe(withBudget(both)),
    charged,
    charged.pipe(withBudget(both)),
    Effect.zipRight(consume, body)
  ])) as [number, number, number, number, number, number, number]
  await runtime.dispose()

  return [
    { name: "bare Effect.succeed (budget baseline)", nsPerOp: bare },
    { name: "withBudget per-run limits (tokens, cost, calls)", nsPerOp: perRun, overheadNs: perRun - bare },
    {
      name: "withBudget per-window calls (RateLimiter, memory store)",
      nsPerOp: perWindowCalls,
      overheadNs: perWindowCalls - bare
    },
    {
      name: "RateLimiter.consume alone (fixed window, memory store), for comparison",
      nsPerOp: consumeNs,
      overheadNs: consumeNs - bare
    },
    { name: "withBudget per-run + per-window (all limits, memory store)", nsPerOp: all, overheadNs: all - bare },
    { name: "Budget.charge outside withBudget (no-op)", nsPerOp: bareCharge, overheadNs: bareCharge - bare },
    {
      name: "withBudget all limits + one charge per call (memory store, no-op ledger)",
      nsPerOp: allCharged,
      overheadNs: allCharged - bare
    }
  ]
}
