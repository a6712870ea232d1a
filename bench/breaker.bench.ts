/**
 * Per-call overhead of `withBreaker` against a bare Effect loop and against
 * the peers (opossum, cockatiel) on resolved async functions, in one run.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import CircuitBreakerOpossum from "opossum"
import { ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel"
import { CircuitBreaker, Ledger, withBreaker } from "../src/index.js"
import type { Row } from "./index.js"

const N = 200_000

/** ns per op of an Effect that runs `body` n times inside one generator */
const effectLoop = async (runtime: ManagedRuntime.ManagedRuntime<never, never>, body: Effect.Effect<unknown, unknown, never>, n = N) => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Effect.either(body)
  })
  await runtime.runPromise(loop) // warm-up
  const t0 = performance.now()
  await runtime.runPromise(loop)
  return ((performance.now() - t0) * 1e6) / n
}

const asyncLoop = async (fn: () => Promise<unknown>, n = N) => {
  for (let i = 0; i < 10_000; i++) await fn()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await fn()
  return ((performance.now() - t0) * 1e6) / n
}

const runPromiseLoop = async (runtime: ManagedRuntime.ManagedRuntime<never, never>, effect: Effect.Effect<unknown, unknown, never>, n = 50_000) => {
  for (let i = 0; i < 5_000; i++) await runtime.runPromise(Effect.either(effect))
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await runtime.runPromise(Effect.either(effect))
  return ((performance.now() - t0) * 1e6) / n
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const runtime = ManagedRuntime.make(Layer.empty)
  const mk = (options: CircuitBreaker.BreakerOptions) =>
    Effect.runSync(CircuitBreaker.make(options).pipe(Effect.provide(Ledger.layerNoop)))
  const noTimeout = mk({ name: "bench", callTimeout: null })
  const withTimeout = mk({ name: "bench-timeout" })
  const open = mk({ name: "bench-open", failureThreshold: 1 })
  Effect.runSync(open.forceOpen)
  const body = Effect.succeed(1)

  const heapBefore = process.memoryUsage().heapUsed
  const bare = await effectLoop(runtime, body)
  const closed = await effectLoop(runtime, body.pipe(withBreaker(noTimeout)))
  const closedTimeout = await effectLoop(runtime, body.pipe(withBreaker(withTimeout)))
  const openFast = await effectLoop(runtime, body.pipe(withBreaker(open)))
  const preallocated = new Error("x")
  const bareFail = await effectLoop(runtime, Effect.fail(preallocated))
  const naiveTimeout = await effectLoop(runtime, body.pipe(Effect.timeout("30 seconds")), 50_000)
  const rpBare = await runPromiseLoop(runtime, body)
  const rpWrapped = await runPromiseLoop(runtime, body.pipe(withBreaker(withTimeout)))

  // memory over 1,000,000 calls through the default configuration
  global.gc?.()
  const before = process.memoryUsage().heapUsed
  await runtime.runPromise(Effect.gen(function*() {
    for (let i = 0; i < 1_000_000; i++) yield* body.pipe(withBreaker(withTimeout))
  }))
  global.gc?.()
  const after = process.memoryUsage().heapUsed

  const resolved = async () => 1
  const bareAsync = await asyncLoop(resolved)
  const opossum = new CircuitBreakerOpossum(resolved, { timeout: 30_000 })
  const opossumNs = await asyncLoop(() => opossum.fire())
  opossum.shutdown()
  const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(3) })
  const cockatielNs = await asyncLoop(() => cockatiel.execute(resolved))
  await runtime.dispose()
  void heapBefore

  return [
    { name: "bare Effect.succeed (Effect loop)", nsPerOp: bare },
    { name: "withBreaker CLOSED, callTimeout null", nsPerOp: closed, overheadNs: closed - bare },
    { name: "withBreaker CLOSED, default callTimeout 30 s", nsPerOp: closedTimeout, overheadNs: closedTimeout - bare },
    { name: "bare Effect.fail (preallocated error)", nsPerOp: bareFail },
    { name: "withBreaker OPEN fast-fail", nsPerOp: openFast, overheadNs: openFast - bareFail },
    { name: "naive Effect.timeout(30 s), for comparison", nsPerOp: naiveTimeout, overheadNs: naiveTimeout - bare },
    { name: "ManagedRuntime.runPromise bare", nsPerOp: rpBare },
    { name: "ManagedRuntime.runPromise withBreaker (default)", nsPerOp: rpWrapped, overheadNs: rpWrapped - rpBare },
    { name: "bare async function", nsPerOp: bareAsync },
    { name: "opossum fire (timeout 30 s)", nsPerOp: opossumNs, overheadNs: opossumNs - bareAsync },
    { name: "cockatiel circuitBreaker.execute", nsPerOp: cockatielNs, overheadNs: cockatielNs - bareAsync },
    { name: "heap growth over 1,000,000 default calls", heapBeforeMB: before / 2 ** 20, heapAfterMB: after / 2 ** 20 }
  ]
}
