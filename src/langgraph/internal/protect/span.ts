/**
 * The span around a node call (`protectNode`, `guardedToolNode`), made only
 * when a tracer is installed: with Effect's default tracer, which exports
 * nowhere, a span is pure cost.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/** the span's name */
export const NODE_SPAN = "agentarmour.node"
/** attributes */
export const SPAN_NODE = "agentarmour.node"
export const SPAN_BREAKER = "agentarmour.breaker"
export const SPAN_OUTCOME = "agentarmour.outcome"
export const SPAN_FALLBACK = "agentarmour.fallback"
export const SPAN_TOOL_CALLS = "agentarmour.tool_calls"
export const SPAN_TOOL_REFUSALS = "agentarmour.tool_refusals"

/** Effect's own tracer, in place when no tracer (OpenTelemetry) is installed */
const defaultTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/**
 * `body` inside the node span: `attributes` at the start, `annotations` of
 * its answer at the end.
 */
export const withNodeSpan = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  attributes: Record<string, unknown>,
  annotations: (a: A) => Record<string, unknown>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const tracer = Context.get(fiber.getFiberRef(DefaultServices.currentServices), Tracer.Tracer)
    if (tracer === defaultTracer) return body
    return body.pipe(
      Effect.tap((a) => Effect.annotateCurrentSpan(annotations(a))),
      // a stack trace per call costs more than the rest of the span (docs/performance.md)
      Effect.withSpan(NODE_SPAN, { attributes, captureStackTrace: false })
    )
  })
