/**
 * The keys of the per-call metrics, shared by `Telemetry` (the metrics) and
 * the breaker, which keeps the registry's hooks of its own labels so that a
 * call updates them without a lookup (docs/performance.md, "CLOSED,
 * callTimeout null").
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as MetricHook from "effect/MetricHook"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"

export const calls = MetricKey.counter("agentarmour_calls_total", {
  description: "calls through a circuit breaker, by outcome (success, failure, timeout, rejected)",
  incremental: true
})

export const callDuration = MetricKey.histogram(
  "agentarmour_call_duration_seconds",
  MetricBoundaries.exponential({ start: 0.005, factor: 2, count: 14 }),
  "duration of the calls that ran through a circuit breaker, in seconds"
)

export const toolCalls = MetricKey.counter("agentarmour_tool_calls_total", {
  description: "tool calls checked by ToolGuard, by tool and outcome",
  incremental: true
})

/**
 * The counter of one (tool, outcome), its labels in its key: updating it
 * needs no label lookup (a `Metric.tagged` counter makes a key per update).
 */
export const toolCallCounter = (tool: string, outcome: string): Metric.Metric.Counter<number> =>
  Metric.fromMetricKey(
    MetricKey.taggedWithLabels(toolCalls, [MetricLabel.make("tool", tool), MetricLabel.make("outcome", outcome)])
  )

/** the hook `Telemetry.calls.unsafeUpdate(n, labels)` updates */
export const callsHook = (labels: ReadonlyArray<MetricLabel.MetricLabel>): MetricHook.MetricHook.Counter<number> =>
  Metric.globalMetricRegistry.getCounter(MetricKey.taggedWithLabels(calls, labels))

/** the hook `Telemetry.callDuration.unsafeUpdate(s, labels)` updates */
export const callDurationHook = (labels: ReadonlyArray<MetricLabel.MetricLabel>): MetricHook.MetricHook.Histogram =>
  Metric.globalMetricRegistry.getHistogram(MetricKey.taggedWithLabels(callDuration, labels))
