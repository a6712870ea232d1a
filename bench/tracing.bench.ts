/**
 * What tracing costs a breaker call: `withBreaker` with `trace: false` (the
 * default), with `trace: true` and Effect's own tracer (no exporter), and
 * with `trace: true` and OpenTelemetry (`@effect/opentelemetry`'s `NodeSdk`
 * with a `BatchSpanProcessor` into an in-memory exporter, as an application
 * exporting spans would run it). Same run, same body, best of three rounds.
 */
import { NodeSdk } from "@effect/opentelemetry"
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, ManagedRuntime } from "effect"

import { CircuitBreaker, Ledger, withBreaker } from "../src/index.js"
import type { Row } from "./index.js"

const N = 50_000

const loop = async <R>(
  runtime: ManagedRuntime.ManagedRuntime<R, unknown>,
  body: Effect.Effect<unknown, unknown, R>
) => {
  const run = Effect.gen(function*() {
    for (let i = 0; i < N; i++) yield* Effect.either(body)
  })
  await runtime.runPromise(run) // warm-up
  let best = Infinity
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now()
    await runtime.runPromise(run)
    best = Math.min(best, ((performance.now() - t0) * 1e6) / N)
  }
  return best
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  // counts what reaches the exporter (a real one would send it over the network)
  let exported = 0
  const exporter: SpanExporter = {
    export: (spans: Array<ReadableSpan>, done) => {
      exported += spans.length
      done({ code: 0 })
    },
    shutdown: () => Promise.resolve()
  }
  const otel = NodeSdk.layer(() => ({
    resource: { serviceName: "agentarmour-bench" },
    spanProcessor: new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, scheduledDelayMillis: 50 })
  }))
  const plainRuntime = ManagedRuntime.make(Ledger.layerNoop)
  const otelRuntime = ManagedRuntime.make(Layer.merge(Ledger.layerNoop, otel))
  const make = (trace: boolean) =>
    plainRuntime.runPromise(CircuitBreaker.make({ name: `tracing-${trace}`, callTimeout: null, trace }))
  const untraced = await make(false)
  const traced = await make(true)
  const body = Effect.succeed(1)
  const off = await loop(plainRuntime, body.pipe(withBreaker(untraced)))
  const effectTracer = await loop(plainRuntime, body.pipe(withBreaker(traced)))
  const openTelemetry = await loop(otelRuntime, body.pipe(withBreaker(traced)))
  await otelRuntime.dispose() // flushes the batch processor
  await plainRuntime.dispose()
  return [
    { name: "tracing: withBreaker, trace: false", nsPerOp: off },
    {
      name: "tracing: withBreaker, trace: true, Effect's tracer (no exporter)",
      nsPerOp: effectTracer,
      ratio: effectTracer / off
    },
    {
      name: "tracing: withBreaker, trace: true, OpenTelemetry (NodeSdk, batch processor)",
      nsPerOp: openTelemetry,
      ratio: openTelemetry / off,
      spansExported: exported
    }
  ]
}
