/**
 * The SQL ledger's metrics.
 *
 * @internal
 */
import * as Metric from "effect/Metric"

/**
 * Records an SQL ledger could not write: its write queue was full (the oldest go
 * first), the database could not be opened or written, or the flush deadline passed.
 *
 * @since 0.1.0
 * @category metrics
 */
export const droppedRecords = Metric.counter("agentarmour_ledger_dropped_records_total", {
  description:
    "ledger records that could not be written: queue overflow (the oldest go first), a database that cannot be opened or written, the flush deadline",
  incremental: true
})

/**
 * Batch writes of an SQL ledger that failed (each is retried).
 *
 * @since 0.1.0
 * @category metrics
 */
export const writeErrors = Metric.counter("agentarmour_ledger_write_errors_total", {
  description: "ledger batch writes that failed and were retried",
  incremental: true
})
