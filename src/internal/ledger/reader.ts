/**
 * The read side of the SQL ledger, shared by the read-write ledger and the
 * read-only one (CLI, dashboard): newest rows first through the
 * (name, id) indexes, call statistics, usage, tool calls and the summary.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

import type { TablePrefix } from "../tablePrefix.js"
import { callStatsOf, minuteOf } from "./callCounters.js"
import { date, iso, num } from "./columns.js"
import { limitOf, readError } from "./queries.js"
import { FailureRecord, FallbackRecord, QuarantineRecord, TransitionRecord, UsageSummary } from "./records.js"
import type { BreakerState, CallStats, FailureCategory, LedgerError, Query, StatsQuery, UsageQuery } from "./records.js"
import { readSummary } from "./summary.js"
import { tables } from "./tables.js"
import { readToolCalls } from "./toolCalls.js"

interface FailureRow {
  readonly breaker_name: string
  readonly category: string
  readonly error_type: string
  readonly error_message: string
  readonly traceback: string
  readonly created_at: string
}
interface TransitionRow {
  readonly breaker_name: string
  readonly from_state: string
  readonly to_state: string
  readonly reason: string
  readonly created_at: string
}

/** the read side, shared by the read-write ledger and the read-only one (CLI, dashboard) */
export const makeReader = (prefix: TablePrefix) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    const where = (q: Query | undefined, column = "breaker_name") =>
      q?.breaker === undefined ? sql`` : sql`WHERE ${sql(column)} = ${q.breaker}`

    /** the newest rows of one table, as records (an index on (name, id) serves the filtered read) */
    const newest = <Row extends object, A>(
      table: string,
      columns: string,
      what: string,
      toRecord: (row: Row) => A,
      nameColumn = "breaker_name"
    ) =>
    (q?: Query): Effect.Effect<ReadonlyArray<A>, LedgerError> =>
      sql<Row>`SELECT ${sql.unsafe(columns)} FROM ${sql(table)} ${where(q, nameColumn)} ORDER BY id DESC LIMIT ${
        limitOf(q)
      }`.pipe(
        Effect.map((rows) => rows.map(toRecord)),
        Effect.mapError(readError(what))
      )

    const failures = newest<FailureRow, FailureRecord>(
      t.failures,
      "breaker_name, category, error_type, error_message, traceback, created_at",
      "failures",
      (r) =>
        new FailureRecord({
          breakerName: r.breaker_name,
          category: r.category as FailureCategory,
          errorType: r.error_type,
          errorMessage: r.error_message,
          traceback: r.traceback,
          createdAt: date(r.created_at)
        }, true)
    )
    const transitions = newest<TransitionRow, TransitionRecord>(
      t.transitions,
      "breaker_name, from_state, to_state, reason, created_at",
      "transitions",
      (r) =>
        new TransitionRecord({
          breakerName: r.breaker_name,
          fromState: r.from_state as BreakerState,
          toState: r.to_state as BreakerState,
          reason: r.reason,
          createdAt: date(r.created_at)
        }, true)
    )
    const fallbacks = newest<{ breaker_name: string; strategy: string; created_at: string }, FallbackRecord>(
      t.fallbacks,
      "breaker_name, strategy, created_at",
      "fallbacks",
      (r) =>
        new FallbackRecord(
          { breakerName: r.breaker_name, strategy: r.strategy, createdAt: date(r.created_at) },
          true
        )
    )
    const quarantines = newest<
      { run_id: string; key: string; node: string; action: string; reason: string; created_at: string },
      QuarantineRecord
    >(
      t.quarantines,
      "run_id, key, node, action, reason, created_at",
      "quarantines",
      (r) =>
        new QuarantineRecord({
          runId: r.run_id,
          key: r.key,
          node: r.node,
          action: r.action as "quarantine",
          reason: r.reason,
          createdAt: date(r.created_at)
        }, true),
      "node"
    )

    type StatsRow = {
      breaker_name: string
      minute: string
      calls: unknown
      failures: unknown
      rejections: unknown
      timeouts: unknown
      slow_calls: unknown
    }
    type StatsFallbackRow = { breaker_name: string; minute: string; strategy: string; count: unknown }

    const callStats = (q?: StatsQuery): Effect.Effect<ReadonlyArray<CallStats>, LedgerError> =>
      Effect.gen(function*() {
        const conditions = [
          ...(q?.breaker === undefined ? [] : [sql`breaker_name = ${q.breaker}`]),
          ...(q?.since === undefined ? [] : [sql`minute >= ${minuteOf(q.since.getTime())}`])
        ]
        const rows = yield* sql<StatsRow>`SELECT breaker_name, minute, calls, failures, rejections, timeouts, slow_calls
          FROM ${sql(t.stats)} ${conditions.length === 0 ? sql`` : sql`WHERE ${sql.and(conditions)}`}
          ORDER BY minute, breaker_name`
        const fb = yield* sql<StatsFallbackRow>`SELECT breaker_name, minute, strategy, count
          FROM ${sql(t.statsFallbacks)} ${conditions.length === 0 ? sql`` : sql`WHERE ${sql.and(conditions)}`}`
        const fallbacksOf = new Map<string, Record<string, number>>()
        for (const r of fb) {
          const key = `${r.breaker_name}\u0000${r.minute}`
          const m = fallbacksOf.get(key) ?? {}
          m[r.strategy] = num(r.count)
          fallbacksOf.set(key, m)
        }
        const out = rows.map((r) => {
          const key = `${r.breaker_name}\u0000${r.minute}`
          const fallbacks = fallbacksOf.get(key) ?? {}
          fallbacksOf.delete(key)
          return callStatsOf({
            breakerName: r.breaker_name,
            minute: date(r.minute),
            calls: num(r.calls),
            failures: num(r.failures),
            rejections: num(r.rejections),
            timeouts: num(r.timeouts),
            slowCalls: num(r.slow_calls),
            fallbacks
          })
        })
        // minutes with fallbacks but no call recorded
        for (const [key, fallbacks] of fallbacksOf) {
          const [breakerName, minute] = key.split("\u0000") as [string, string]
          out.push(callStatsOf({
            breakerName,
            minute: date(minute),
            calls: 0,
            failures: 0,
            rejections: 0,
            timeouts: 0,
            slowCalls: 0,
            fallbacks
          }))
        }
        return out.sort((a, b) => a.minute.getTime() - b.minute.getTime() || (a.breakerName < b.breakerName ? -1 : 1))
      }).pipe(Effect.mapError(readError("call statistics")))

    const usage = (q?: UsageQuery): Effect.Effect<ReadonlyArray<UsageSummary>, LedgerError> => {
      const key = q?.by === "run" ? sql`COALESCE(run_id, '-')` : sql`node`
      const since = q?.since === undefined ? sql`` : sql`WHERE created_at >= ${iso(q.since)}`
      return sql<{ key: string; calls: unknown; tokens_in: unknown; tokens_out: unknown; cost_usd: unknown }>`
        SELECT ${key} AS key, COUNT(*) AS calls, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out,
          SUM(cost_usd) AS cost_usd
        FROM ${sql(t.usage)} ${since} GROUP BY ${key} ORDER BY SUM(cost_usd) DESC, ${key} LIMIT ${limitOf(q, 100)}`
        .pipe(
          Effect.map((rows) =>
            rows.map((r) =>
              new UsageSummary({
                key: r.key,
                calls: num(r.calls),
                tokensIn: num(r.tokens_in),
                tokensOut: num(r.tokens_out),
                costUsd: num(r.cost_usd)
              }, true)
            )
          ),
          Effect.mapError(readError("usage"))
        )
    }

    const toolCalls = readToolCalls(sql, t.toolCalls)
    const summary = readSummary(sql, t)
    return { failures, transitions, fallbacks, quarantines, callStats, usage, toolCalls, summary }
  })

/** what `makeReader` gives */
export type Reader = Effect.Effect.Success<ReturnType<typeof makeReader>>
