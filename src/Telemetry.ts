/**
 * The metrics agentarmour reports, as Effect `Metric`s: export them with
 * `@effect/opentelemetry` (or read them with `Metric.value`). Breakers update
 * the `calls`, `callDuration` and `breakerState` metrics themselves; the
 * LangGraph adapter updates `fallbacks`.
 *
 * Breakers update their metrics without a fiber (`unsafeUpdate`, with label
 * arrays made once per breaker), so `Metric.withLabels`/`Effect.tagMetrics`
 * of the caller do not apply to them.
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

import * as keys from "./internal/telemetryKeys.js"
import type { BreakerState } from "./Ledger.js"

/**
 * `agentarmour_calls_total{breaker,outcome}`: calls through a breaker, by
 * outcome (`success`, `failure`, `timeout`, `rejected`).
 *
 * @since 0.2.0
 * @category metrics
 */
export const calls: Metric.Metric.Counter<number> = Metric.fromMetricKey(keys.calls)

/**
 * `agentarmour_call_duration_seconds{breaker}`: how long the calls that ran
 * took (rejections are not in it). Millisecond resolution (the `Clock`).
 *
 * @since 0.2.0
 * @category metrics
 */
export const callDuration: Metric.Metric.Histogram<number> = Metric.fromMetricKey(keys.callDuration)

/**
 * `agentarmour_breaker_state{breaker}`: the state as a number (`stateValue`).
 *
 * @since 0.2.0
 * @category metrics
 */
export const breakerState: Metric.Metric.Gauge<number> = Metric.gauge("agentarmour_breaker_state", {
  description: "circuit breaker state: 0 CLOSED, 1 OPEN, 2 HALF_OPEN, 3 ISOLATED, 4 DISABLED"
})

/**
 * `agentarmour_fallbacks_total{breaker,strategy}`: fallbacks that answered.
 *
 * @since 0.2.0
 * @category metrics
 */
export const fallbacks: Metric.Metric.Counter<number> = Metric.counter("agentarmour_fallbacks_total", {
  description: "fallbacks that answered for a failed or rejected call, by strategy",
  incremental: true
})

/**
 * `agentarmour_tool_calls_total{tool,outcome}`: ToolGuard decisions, by tool
 * and outcome (`ok`, `repaired`, `unknown_tool`, `invalid_args`, ... as in
 * `Ledger.ToolCallOutcome`).
 *
 * @since 0.3.0
 * @category metrics
 */
export const toolCalls: Metric.Metric.Counter<number> = Metric.fromMetricKey(keys.toolCalls)

/**
 * Adds one to `agentarmour_tool_calls_total{tool,outcome}`.
 *
 * @since 0.3.0
 * @category metrics
 */
export const countToolCall = (tool: string, outcome: string): Effect.Effect<void> => {
  const key = `${tool}\u0000${outcome}`
  let counter = toolCallCounters.get(key)
  if (counter === undefined) {
    if (toolCallCounters.size > 10_000) toolCallCounters.clear()
    counter = Metric.increment(keys.toolCallCounter(tool, outcome))
    toolCallCounters.set(key, counter)
  }
  return counter
}

/** the increment effect of each (tool, outcome), made once */
const toolCallCounters = new Map<string, Effect.Effect<void>>()

/**
 * The value of `agentarmour_breaker_state` for each state.
 *
 * @since 0.2.0
 * @category constants
 */
export const stateValue: Readonly<Record<BreakerState, number>> = {
  CLOSED: 0,
  OPEN: 1,
  HALF_OPEN: 2,
  ISOLATED: 3,
  DISABLED: 4
}

/**
 * Span and attribute names.
 *
 * @since 0.2.0
 * @category constants
 */
export const names = {
  breakerSpan: "agentarmour.breaker",
  nodeSpan: "agentarmour.node",
  breaker: "agentarmour.breaker",
  node: "agentarmour.node",
  outcome: "agentarmour.outcome",
  fallback: "agentarmour.fallback",
  toolCalls: "agentarmour.tool_calls"
} as const
