/**
 * Per-call overhead of `withBreaker` against a bare Effect loop and against
 * the peers (opossum, cockatiel) on resolved async functions, in one run;
 * the registry lookup, breaker creation and weight, and the call timeout on
 * nodes that really suspend.
 */
import { circuitBreaker, ConsecutiveBreaker, handleAll } from "cockatiel"
import { Effect, Layer, ManagedRuntime } from "effect"
import CircuitBreakerOpossum from "opossum"

import type * as Lib from "../src/index.js"
import type { Row } from "./index.js"
import { core, source } from "./lib.js"

const { BreakerRegistry, CircuitBreaker, Ledger, withBreaker } = core

const N = 100_000
/** the bare Effect step of the machine the 0.1 figures (and the ≤ 0.5 µs target) were measured on */
const REFERENCE_BARE_STEP_NS = 228

/** ns per op of an Effect that runs `body` n times inside one generator (best of `rounds`) */
const effectLoop = async <R>(
  runtime: ManagedRuntime.ManagedRuntime<R, unknown>,
  body: Effect.Effect<unknown, unknown, R>,
  n = N,
  rounds = 3
) => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Effect.either(body)
  })
  await runtime.runPromise(loop) // warm-up
  let best = Infinity
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now()
    await runtime.runPromise(loop)
    best = Math.min(best, ((performance.now() - t0) * 1e6) / n)
  }
  return best
}

const asyncLoop = async (fn: () => Promise<unknown>, n = N) => {
  for (let i = 0; i < 10_000; i++) await fn()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await fn()
  return ((performance.now() - t0) * 1e6) / n
}

const runPromiseLoop = async (
  runtime: ManagedRuntime.ManagedRuntime<never, never>,
  effect: Effect.Effect<unknown, unknown, never>,
  n = 50_000
) => {
  for (let i = 0; i < 5_000; i++) await runtime.runPromise(Effect.either(effect))
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await runtime.runPromise(Effect.either(effect))
  return ((performance.now() - t0) * 1e6) / n
}

/** heap bytes per breaker, `count` breakers made (and each called once when `call`) */
const weigh = async (count: number, call: boolean) => {
  const breakers: Array<Lib.CircuitBreaker.CircuitBreaker> = []
  global.gc?.()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < count; i++) {
    const b = Effect.runSync(CircuitBreaker.make({ name: `weigh-${i}` }).pipe(Effect.provide(Ledger.layerNoop)))
    if (call) Effect.runSync(Effect.succeed(1).pipe(withBreaker(b)))
    breakers.push(b)
  }
  global.gc?.()
  const after = process.memoryUsage().heapUsed
  return { bytes: (after - before) / count, kept: breakers.length }
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const runtime = ManagedRuntime.make(Layer.empty)
  const mk = (options: Lib.CircuitBreaker.BreakerOptions) =>
    Effect.runSync(CircuitBreaker.make(options).pipe(Effect.provide(Ledger.layerNoop)))
  const noTimeout = mk({ name: "bench", callTimeout: null })
  const withTimeout = mk({ name: "bench-timeout" })
  const open = mk({ name: "bench-open", failureThreshold: 1 })
  Effect.runSync(open.forceOpen)
  const body = Effect.succeed(1)

  // bare and CLOSED alternate, best of each: the overhead is a difference of two close numbers
  let bare = Infinity
  let closed = Infinity
  for (let r = 0; r < 3; r++) {
    bare = Math.min(bare, await effectLoop(runtime, body))
    closed = Math.min(closed, await effectLoop(runtime, body.pipe(withBreaker(noTimeout))))
  }
  const closedTimeout = await effectLoop(runtime, body.pipe(withBreaker(withTimeout)))
  const openFast = await effectLoop(runtime, body.pipe(withBreaker(open)))
  const preallocated = new Error("x")
  const bareFail = await effectLoop(runtime, Effect.fail(preallocated))
  const naiveTimeout = await effectLoop(runtime, body.pipe(Effect.timeout("30 seconds")), 50_000)
  const rpBare = await runPromiseLoop(runtime, body)
  const rpWrapped = await runPromiseLoop(runtime, body.pipe(withBreaker(withTimeout)))

  // nodes that really suspend: a resolved promise (a microtask: the worst case for the timeout's
  // extra fiber) and a turn of the event loop (setImmediate)
  const promiseNode = Effect.promise(() => Promise.resolve(1))
  const ioNode = Effect.async<number>((resume) => {
    setImmediate(() => resume(Effect.succeed(1)))
  })
  // a node waiting 1 ms on a timer, the shortest of real waits (an LLM call waits 200-3000 ms)
  const timerNode = Effect.async<number>((resume) => {
    setTimeout(() => resume(Effect.succeed(1)), 1)
  })
  const suspendRows: Array<Row> = []
  for (
    const [label, node, S] of [
      ["promise", promiseNode, 10_000],
      ["setImmediate", ioNode, 10_000],
      ["1 ms timer", timerNode, 400]
    ] as const
  ) {
    const nodeBare = await effectLoop(runtime, node, S, 3)
    // null and default alternate, best of three each: both see the same machine
    let nodeNull = Infinity
    let nodeDefault = Infinity
    for (let r = 0; r < 3; r++) {
      nodeNull = Math.min(nodeNull, await effectLoop(runtime, node.pipe(withBreaker(noTimeout)), S, 1))
      nodeDefault = Math.min(nodeDefault, await effectLoop(runtime, node.pipe(withBreaker(withTimeout)), S, 1))
    }
    const nodeNaive = await effectLoop(runtime, node.pipe(Effect.timeout("30 seconds")), S, 1)
    suspendRows.push(
      { name: `suspending node (${label}), bare`, nsPerOp: nodeBare },
      { name: `suspending node (${label}), withBreaker callTimeout null`, nsPerOp: nodeNull },
      {
        name: `suspending node (${label}), withBreaker default callTimeout 30 s`,
        nsPerOp: nodeDefault,
        ratioToNull: nodeDefault / nodeNull
      },
      { name: `suspending node (${label}), naive Effect.timeout(30 s)`, nsPerOp: nodeNaive }
    )
  }
  // the same nodes as promise-returning functions through CircuitBreaker.tryPromise, which awaits the
  // promise on the caller's fiber under the deadline: no child fiber (as protectNode does for a plain async node)
  const promiseFns = [
    ["promise", () => Promise.resolve(1), 10_000],
    ["setImmediate", () => new Promise<number>((resolve) => setImmediate(() => resolve(1))), 10_000],
    ["1 ms timer", () => new Promise<number>((resolve) => setTimeout(() => resolve(1), 1)), 400]
  ] as const
  for (const [label, fn, S] of promiseFns) {
    let viaNull = Infinity
    let viaDefault = Infinity
    for (let r = 0; r < 3; r++) {
      viaNull = Math.min(viaNull, await effectLoop(runtime, CircuitBreaker.tryPromise(noTimeout, fn), S, 1))
      viaDefault = Math.min(viaDefault, await effectLoop(runtime, CircuitBreaker.tryPromise(withTimeout, fn), S, 1))
    }
    suspendRows.push(
      { name: `suspending node (${label}), CircuitBreaker.tryPromise callTimeout null`, nsPerOp: viaNull },
      {
        name: `suspending node (${label}), CircuitBreaker.tryPromise default callTimeout 30 s`,
        nsPerOp: viaDefault,
        ratioToNull: viaDefault / viaNull
      }
    )
  }

  // the registry: lookup by name against the same breaker used directly (default options)
  const registryRuntime = ManagedRuntime.make(BreakerRegistry.layer().pipe(Layer.provide(Ledger.layerNoop)))
  const registry = await registryRuntime.runPromise(BreakerRegistry.BreakerRegistry)
  const named = await registryRuntime.runPromise(registry.get("bench-named"))
  const direct = await effectLoop(registryRuntime, body.pipe(withBreaker(named)))
  const byName = await effectLoop(registryRuntime, body.pipe(withBreaker("bench-named")))
  const fibers = (b: Lib.CircuitBreaker.CircuitBreaker | string) =>
    Effect.forEach(
      Array.from({ length: 1000 }, () => Effect.promise(() => Promise.resolve(1)).pipe(withBreaker(b as any))),
      (e) => e,
      { concurrency: "unbounded", discard: true }
    ) as Effect.Effect<void, unknown, Lib.BreakerRegistry.BreakerRegistry>
  const directFibers = await effectLoop(registryRuntime, fibers(named), 50) / 1000
  const byNameFibers = await effectLoop(registryRuntime, fibers("bench-named"), 50) / 1000

  // creating 10,000 breakers through the registry
  const creating = await registryRuntime.runPromise(
    Effect.gen(function*() {
      const fresh = yield* BreakerRegistry.make()
      const t0 = performance.now()
      for (let i = 0; i < 10_000; i++) yield* fresh.get(`node-${i}`)
      return performance.now() - t0
    }).pipe(Effect.provide(Ledger.layerNoop))
  )
  await registryRuntime.dispose()

  const made = await weigh(10_000, false)
  const called = await weigh(10_000, true)

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

  return [
    { name: "bare Effect.succeed (Effect loop)", nsPerOp: bare, library: source },
    {
      name: "withBreaker CLOSED, callTimeout null",
      nsPerOp: closed,
      overheadNs: closed - bare,
      // the same overhead in bare Effect steps, and scaled to the machine of the 0.1 table (a bare step of 228 ns)
      overheadBareSteps: (closed - bare) / bare,
      overheadAt228NsStepNs: ((closed - bare) * REFERENCE_BARE_STEP_NS) / bare
    },
    { name: "withBreaker CLOSED, default callTimeout 30 s", nsPerOp: closedTimeout, overheadNs: closedTimeout - bare },
    { name: "bare Effect.fail (preallocated error)", nsPerOp: bareFail },
    { name: "withBreaker OPEN fast-fail", nsPerOp: openFast, overheadNs: openFast - bareFail },
    { name: "naive Effect.timeout(30 s), for comparison", nsPerOp: naiveTimeout, overheadNs: naiveTimeout - bare },
    ...suspendRows,
    { name: "registry: breaker used directly (default options)", nsPerOp: direct },
    { name: "registry: withBreaker(\"name\") lookup", nsPerOp: byName, ratioToDirect: byName / direct },
    { name: "registry: 1,000 fibers, breaker used directly", nsPerOp: directFibers },
    {
      name: "registry: 1,000 fibers, withBreaker(\"name\")",
      nsPerOp: byNameFibers,
      ratioToDirect: byNameFibers / directFibers
    },
    { name: "registry: 10,000 breakers created", totalMs: creating },
    { name: "breaker weight, default options, made", bytesPerBreaker: made.bytes },
    { name: "breaker weight, default options, called once", bytesPerBreaker: called.bytes },
    { name: "ManagedRuntime.runPromise bare", nsPerOp: rpBare },
    { name: "ManagedRuntime.runPromise withBreaker (default)", nsPerOp: rpWrapped, overheadNs: rpWrapped - rpBare },
    { name: "bare async function", nsPerOp: bareAsync },
    { name: "opossum fire (timeout 30 s)", nsPerOp: opossumNs, overheadNs: opossumNs - bareAsync },
    { name: "cockatiel circuitBreaker.execute", nsPerOp: cockatielNs, overheadNs: cockatielNs - bareAsync },
    { name: "heap growth over 1,000,000 default calls", heapBeforeMB: before / 2 ** 20, heapAfterMB: after / 2 ** 20 }
  ]
}
