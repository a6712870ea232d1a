/**
 * The Prometheus text exposition format (version 0.0.4), small and strict.
 *
 * No Prometheus encoder ships with `effect` 3, `@effect/opentelemetry` or the
 * packages this one depends on (`prom-client` and
 * `@opentelemetry/exporter-prometheus` would each add a dependency tree for
 * forty lines), so this one encodes metric families and Effect `Metric`
 * snapshots itself, escaping as the format requires:
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 *
 * @since 0.2.0
 */
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"

/**
 * @since 0.2.0
 * @category models
 */
export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped"

/**
 * One sample: its labels (in order), its value, and an optional name suffix
 * (`_bucket`, `_sum`, `_count` of a histogram).
 *
 * @since 0.2.0
 * @category models
 */
export interface Sample {
  readonly labels: ReadonlyArray<readonly [string, string]>
  readonly value: number
  readonly suffix?: string | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Family {
  readonly name: string
  readonly help: string
  readonly type: MetricType
  readonly samples: ReadonlyArray<Sample>
}

/**
 * a label value: backslash, double quote and line feed are escaped
 *
 * @since 0.2.0
 */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

/**
 * a HELP text: backslash and line feed are escaped
 *
 * @since 0.2.0
 */
export const escapeHelp = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/**
 * metric and label names may only hold `[a-zA-Z0-9_:]` (labels no `:`) and not start with a digit
 *
 * @since 0.2.0
 */
export const sanitizeName = (name: string, label = false): string => {
  const clean = name.replace(label ? /[^a-zA-Z0-9_]/g : /[^a-zA-Z0-9_:]/g, "_")
  return /^[0-9]/.test(clean) ? `_${clean}` : clean === "" ? "_" : clean
}

/**
 * Go's float formatting as Prometheus parses it: `+Inf`, `-Inf`, `NaN`
 *
 * @since 0.2.0
 */
export const formatValue = (value: number): string =>
  Number.isNaN(value) ? "NaN" : value === Infinity ? "+Inf" : value === -Infinity ? "-Inf" : String(value)

const formatLabels = (labels: ReadonlyArray<readonly [string, string]>): string =>
  labels.length === 0
    ? ""
    : `{${labels.map(([k, v]) => `${sanitizeName(k, true)}="${escapeLabelValue(v)}"`).join(",")}}`

/**
 * Encodes metric families; a family without samples still gets its `HELP`
 * and `TYPE` lines, so scrapers see the metric exists.
 *
 * @since 0.2.0
 * @category encoding
 */
export const encode = (families: ReadonlyArray<Family>): string => {
  const lines: Array<string> = []
  for (const family of families) {
    const name = sanitizeName(family.name)
    lines.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`)
    for (const s of family.samples) {
      lines.push(`${name}${s.suffix ?? ""}${formatLabels(s.labels)} ${formatValue(s.value)}`)
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n"
}

/**
 * Turns an Effect `Metric.snapshot` into families: one per metric name, one
 * sample (or a histogram's buckets, sum and count) per set of tags.
 * Frequencies become a counter per value (label `key`), summaries their
 * quantiles.
 *
 * @since 0.2.0
 * @category encoding
 */
export const fromEffectMetrics = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): ReadonlyArray<Family> => {
  const byName = new Map<string, { help: string; type: MetricType; samples: Array<Sample> }>()
  for (const pair of pairs) {
    const key = pair.metricKey
    const labels = key.tags.map((t) => [t.key, t.value] as const)
    const state = pair.metricState
    const type: MetricType = MetricState.isCounterState(state)
      ? "counter"
      : MetricState.isGaugeState(state)
      ? "gauge"
      : MetricState.isHistogramState(state)
      ? "histogram"
      : MetricState.isSummaryState(state)
      ? "summary"
      : MetricState.isFrequencyState(state)
      ? "counter"
      : "untyped"
    let family = byName.get(key.name)
    if (family === undefined) {
      const help = (key.description._tag === "Some" ? key.description.value : undefined) ?? key.name
      byName.set(key.name, family = { help, type, samples: [] })
    }
    const samples = family.samples
    if (MetricState.isCounterState(state)) samples.push({ labels, value: Number(state.count) })
    else if (MetricState.isGaugeState(state)) samples.push({ labels, value: Number(state.value) })
    else if (MetricState.isHistogramState(state)) {
      // Effect's buckets are already cumulative (values <= bound)
      let last = -Infinity
      for (const [bound, count] of state.buckets) {
        samples.push({ labels: [...labels, ["le", formatValue(bound)]], value: count, suffix: "_bucket" })
        last = bound
      }
      if (last !== Infinity) {
        samples.push({ labels: [...labels, ["le", "+Inf"]], value: state.count, suffix: "_bucket" })
      }
      samples.push({ labels, value: state.sum, suffix: "_sum" }, { labels, value: state.count, suffix: "_count" })
    } else if (MetricState.isSummaryState(state)) {
      for (const [q, v] of state.quantiles) {
        if (v._tag === "Some") samples.push({ labels: [...labels, ["quantile", String(q)]], value: v.value })
      }
      samples.push({ labels, value: state.sum, suffix: "_sum" }, { labels, value: state.count, suffix: "_count" })
    } else if (MetricState.isFrequencyState(state)) {
      for (const [k, n] of state.occurrences) samples.push({ labels: [...labels, ["key", k]], value: n })
    }
  }
  return Array.from(byName, ([name, f]) => ({ name, ...f }))
}
