/**
 * The per-breaker summary of an SQL ledger, computed in SQL: the running
 * totals (one row per breaker), the last 24 hours of failures over the
 * (breaker_name, created_at) index, each breaker's newest transition, and
 * the call statistics of the last 24 hours.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

import { minuteOf } from "./callCounters.js"
import { date, num } from "./columns.js"
import { readError } from "./queries.js"
import { BreakerSummary } from "./records.js"
import type { BreakerState, LedgerError } from "./records.js"
import type { Tables } from "./tables.js"

const DAY_MILLIS = 24 * 3600_000

interface TotalsRow {
  readonly breaker_name: string
  readonly failures: unknown
  readonly last_at: string | null
  readonly transitions: unknown
  readonly fallbacks: unknown
}

/**
 * The per-breaker totals counted from the event tables, in the totals
 * table's column order (what a migration fills it with, and what a ledger
 * without one reads).
 */
export const countTotals = (sql: SqlClient.SqlClient, t: Tables) =>
  sql<TotalsRow>`
    SELECT breaker_name, SUM(f) AS failures, MAX(l) AS last_at, SUM(tr) AS transitions, SUM(fb) AS fallbacks FROM (
      SELECT breaker_name, COUNT(*) AS f, MAX(created_at) AS l, 0 AS tr, 0 AS fb FROM ${sql(t.failures)}
      GROUP BY breaker_name
      UNION ALL
      SELECT breaker_name, 0, NULL, COUNT(*), 0 FROM ${sql(t.transitions)} GROUP BY breaker_name
      UNION ALL
      SELECT breaker_name, 0, NULL, 0, COUNT(*) FROM ${sql(t.fallbacks)} GROUP BY breaker_name
    ) x GROUP BY breaker_name`

/** the per-breaker summary: one grouped, indexed query per table; never a per-row subquery */
export const readSummary = (
  sql: SqlClient.SqlClient,
  t: Tables
): Effect.Effect<ReadonlyArray<BreakerSummary>, LedgerError> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const since = new Date(now - DAY_MILLIS).toISOString()
    const sinceMinute = minuteOf(now - DAY_MILLIS)
    // the running totals (one row per breaker)
    const totals = yield* sql<TotalsRow>`
    SELECT breaker_name, failures, last_failure_at AS last_at, transitions, fallbacks FROM ${sql(t.totals)}
    WHERE failures > 0 OR transitions > 0 OR fallbacks > 0`.pipe(
      // a 0.1 file read without migrating has no totals table: count them
      Effect.catchAll(() => countTotals(sql, t))
    )
    // the last 24 hours: one covering range of the (breaker_name, created_at) index per breaker
    // (a correlated count per breaker of the totals, not per row)
    const day = yield* sql<{ breaker_name: string; total: unknown }>`
    SELECT b.breaker_name, (SELECT COUNT(*) FROM ${sql(t.failures)} f
      WHERE f.breaker_name = b.breaker_name AND f.created_at >= ${since}) AS total
    FROM ${sql(t.totals)} b WHERE b.failures > 0`.pipe(
      Effect.catchAll(() =>
        sql<{ breaker_name: string; total: unknown }>`
        SELECT breaker_name, COUNT(*) AS total FROM ${sql(t.failures)}
        WHERE created_at >= ${since} GROUP BY breaker_name`
      )
    )
    const latest = yield* sql<{ breaker_name: string; to_state: string; reason: string; created_at: string }>`
    SELECT t.breaker_name, t.to_state, t.reason, t.created_at
    FROM (SELECT breaker_name, MAX(id) AS id FROM ${sql(t.transitions)} GROUP BY breaker_name) m
    JOIN ${sql(t.transitions)} t ON t.id = m.id`
    // tables added in 0.2 may be missing in an older file read without migrating (CLI, dashboard)
    const stats = yield* sql<
      { breaker_name: string; calls: unknown; failures: unknown; timeouts: unknown; rejections: unknown }
    >`
    SELECT breaker_name, SUM(calls) AS calls, SUM(failures) AS failures, SUM(timeouts) AS timeouts,
      SUM(rejections) AS rejections
    FROM ${sql(t.stats)} WHERE minute >= ${sinceMinute} GROUP BY breaker_name`.pipe(
      Effect.orElseSucceed(() => [])
    )
    const sfb = yield* sql<{ breaker_name: string; strategy: string; total: unknown }>`
    SELECT breaker_name, strategy, SUM(count) AS total FROM ${sql(t.statsFallbacks)}
    WHERE minute >= ${sinceMinute} GROUP BY breaker_name, strategy`.pipe(Effect.orElseSucceed(() => []))
    const names = new Set<string>([...totals, ...latest, ...stats, ...sfb].map((r) => r.breaker_name))
    const byName = <R extends { breaker_name: string }>(rows: ReadonlyArray<R>) =>
      new Map(rows.map((r) => [r.breaker_name, r]))
    const fm = byName(totals), dm = byName(day), lm = byName(latest), sm = byName(stats)
    const fallbacksOf = new Map<string, Record<string, number>>()
    for (const r of sfb) {
      const m = fallbacksOf.get(r.breaker_name) ?? {}
      m[r.strategy] = num(r.total)
      fallbacksOf.set(r.breaker_name, m)
    }
    return Array.from(names).sort().map((name) => {
      const fr = fm.get(name)
      const l = lm.get(name)
      const s = sm.get(name)
      const calls = num(s?.calls)
      const failed = num(s?.failures) + num(s?.timeouts)
      return new BreakerSummary({
        breakerName: name,
        state: (l?.to_state ?? "CLOSED") as BreakerState,
        failuresTotal: num(fr?.failures),
        failuresLast24h: num(dm.get(name)?.total),
        lastFailureAt: fr?.last_at ? date(fr.last_at) : null,
        transitions: num(fr?.transitions),
        fallbacksServed: num(fr?.fallbacks),
        since: l === undefined ? null : date(l.created_at),
        reason: l === undefined ? null : l.reason,
        calls,
        failures: failed,
        failureRate: calls === 0 ? 0 : Math.min(1, failed / calls),
        rejections: num(s?.rejections),
        fallbacks: fallbacksOf.get(name) ?? {}
      }, true)
    })
  }).pipe(Effect.mapError(readError("the summary")))
