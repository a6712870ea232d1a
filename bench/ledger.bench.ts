/**
 * Events per second through the SQLite ledger (batched background writer),
 * and the per-call cost of a failing node with the SQLite ledger attached
 * versus the no-op ledger.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CircuitBreaker, Ledger, withBreaker } from "../src/index.js"
import { SqliteLedger } from "../src/sqlite/index.js"
import type { Row } from "./index.js"

const EVENTS = 200_000

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const dir = mkdtempSync(join(tmpdir(), "agentarmour-bench-"))
  const rows: Array<Row> = []
  try {
    const runtime = ManagedRuntime.make(SqliteLedger.layer({ filename: join(dir, "bench.db") }))
    const record = (i: number) =>
      new Ledger.FailureRecord({
        breakerName: `agent-${i % 8}`,
        category: "exception",
        errorType: "AgentError",
        errorMessage: `failure ${i}`,
        traceback: "AgentError: failure\n    at agent (agent.ts:1:1)",
        createdAt: new Date(1_700_000_000_000 + i)
      }, true)
    const records = Array.from({ length: EVENTS }, (_, i) => record(i))
    const t0 = performance.now()
    await runtime.runPromise(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      for (const r of records) yield* ledger.recordFailure(r)
      yield* ledger.flush
    }))
    const seconds = (performance.now() - t0) / 1000
    rows.push({ name: "SQLite ledger: failures written (batched, durable after flush)", nsPerOp: (seconds * 1e9) / EVENTS, eventsPerSecond: EVENTS / seconds })

    // a failing node through a breaker (threshold never reached), with the SQLite ledger vs the no-op ledger
    const failing = Effect.fail("x")
    const perCall = async (layer: Layer.Layer<Ledger.Ledger, unknown>) => {
      const rt = ManagedRuntime.make(layer)
      const n = 50_000
      const ns = await rt.runPromise(Effect.gen(function*() {
        const b = yield* CircuitBreaker.make({ name: "bench", failureThreshold: 100, windowSize: 1, callTimeout: null })
        const loop = Effect.gen(function*() {
          for (let i = 0; i < n; i++) yield* Effect.either(failing.pipe(withBreaker(b)))
        })
        yield* loop
        const t = performance.now()
        yield* loop
        const elapsed = performance.now() - t
        yield* (yield* Ledger.Ledger).flush
        return (elapsed * 1e6) / n
      }))
      await rt.dispose()
      return ns
    }
    const noop = await perCall(Ledger.layerNoop)
    const sqlite = await perCall(SqliteLedger.layer({ filename: join(dir, "percall.db") }))
    rows.push({ name: "failing call through withBreaker, no-op ledger", nsPerOp: noop })
    rows.push({ name: "failing call through withBreaker, SQLite ledger", nsPerOp: sqlite, ratioToNoop: sqlite / noop })
    await runtime.dispose()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}
