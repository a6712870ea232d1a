/**
 * Writing one batch of the queue: its rows per table (in Postgres one
 * `INSERT ... SELECT FROM unnest(...)` per table, in SQLite chunks of 500
 * rows), its call counters and the per-breaker running totals, in one
 * transaction.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"

import type { CallCounter } from "./callCounters.js"
import type { Row } from "./columns.js"
import type { Dialect } from "./connection.js"
import { KINDS, TABLE_OF, toRow } from "./items.js"
import type { Item, Kind } from "./items.js"
import type { Tables } from "./tables.js"

/** Postgres types of the columns, for `unnest` */
const PG_TYPES: Record<string, string> = { tokens_in: "bigint", tokens_out: "bigint", cost_usd: "float8" }

const insertRows = (
  t: Tables,
  sql: SqlClient.SqlClient,
  dialect: Dialect,
  table: string,
  rows: Array<Row>,
  total?: "failures" | "transitions" | "fallbacks"
) => {
  if (rows.length === 0) return Effect.void
  const columns = Object.keys(rows[0]!)
  if (dialect === "pg") {
    // one statement per table whatever the batch size: arrays bound as parameters, unnest into
    // rows; the per-breaker totals are upserted by the same statement (a data-modifying CTE)
    const arrays = columns.map((c) => rows.map((r) => r[c] ?? null))
    const casts = columns.map((c, i) => `$${i + 1}::${PG_TYPES[c] ?? "text"}[]`).join(", ")
    const insert = `INSERT INTO "${table}" (${columns.join(", ")}) SELECT * FROM unnest(${casts})`
    const tt = `"${t.totals}"`
    const statement = total === undefined ? insert : `WITH ins AS (${insert} RETURNING breaker_name, created_at)
      INSERT INTO ${tt} (breaker_name, failures, last_failure_at, transitions, fallbacks)
      SELECT breaker_name,
        ${total === "failures" ? "COUNT(*)" : "0"}, ${total === "failures" ? "MAX(created_at)" : "NULL"},
        ${total === "transitions" ? "COUNT(*)" : "0"}, ${total === "fallbacks" ? "COUNT(*)" : "0"}
      FROM ins GROUP BY breaker_name
      ON CONFLICT (breaker_name) DO UPDATE SET
        failures = ${tt}.failures + excluded.failures,
        last_failure_at = CASE
          WHEN excluded.last_failure_at IS NULL OR ${tt}.last_failure_at >= excluded.last_failure_at
          THEN ${tt}.last_failure_at ELSE excluded.last_failure_at END,
        transitions = ${tt}.transitions + excluded.transitions,
        fallbacks = ${tt}.fallbacks + excluded.fallbacks`
    return sql.unsafe(statement, arrays as never).pipe(Effect.asVoid)
  }
  // SQLite allows 32766 bound parameters per statement: 8 columns x 500 rows stays well below
  return Effect.forEach(
    Array.from({ length: Math.ceil(rows.length / 500) }, (_, i) => rows.slice(i * 500, i * 500 + 500)),
    (chunk) => sql`INSERT INTO ${sql(table)} ${sql.insert(chunk)}`,
    { discard: true }
  )
}

/** adds a batch's call counters to the per-minute statistics */
const upsertCounters = (t: Tables, sql: SqlClient.SqlClient, list: ReadonlyArray<CallCounter>) =>
  Effect.gen(function*() {
    if (list.length === 0) return
    const calls = list.filter((c) => c.calls + c.rejections > 0).map((c) => ({
      breaker_name: c.breakerName,
      minute: c.minute,
      calls: c.calls,
      failures: c.failures,
      rejections: c.rejections,
      timeouts: c.timeouts,
      slow_calls: c.slowCalls
    }))
    const s = sql(t.stats)
    for (let i = 0; i < calls.length; i += 500) {
      yield* sql`INSERT INTO ${s} ${sql.insert(calls.slice(i, i + 500))}
        ON CONFLICT (breaker_name, minute) DO UPDATE SET
          calls = ${s}.calls + excluded.calls,
          failures = ${s}.failures + excluded.failures,
          rejections = ${s}.rejections + excluded.rejections,
          timeouts = ${s}.timeouts + excluded.timeouts,
          slow_calls = ${s}.slow_calls + excluded.slow_calls`
    }
    const fallbacks = list.flatMap((c) =>
      Object.entries(c.fallbacks).map(([strategy, count]) => ({
        breaker_name: c.breakerName,
        minute: c.minute,
        strategy,
        count
      }))
    )
    const f = sql(t.statsFallbacks)
    for (let i = 0; i < fallbacks.length; i += 500) {
      yield* sql`INSERT INTO ${f} ${sql.insert(fallbacks.slice(i, i + 500))}
        ON CONFLICT (breaker_name, minute, strategy) DO UPDATE SET count = ${f}.count + excluded.count`
    }
  })

/** adds a batch's failures, transitions and fallbacks to the per-breaker totals */
const upsertTotals = (t: Tables, sql: SqlClient.SqlClient, rows: Record<Kind, Array<Row>>) => {
  const acc = new Map<
    string,
    {
      breaker_name: string
      failures: number
      last_failure_at: string | null
      transitions: number
      fallbacks: number
    }
  >()
  const get = (name: string) => {
    let a = acc.get(name)
    if (a === undefined) {
      acc.set(name, a = { breaker_name: name, failures: 0, last_failure_at: null, transitions: 0, fallbacks: 0 })
    }
    return a
  }
  for (const r of rows.failure) {
    const a = get(r["breaker_name"] as string)
    a.failures++
    const at = r["created_at"] as string
    if (a.last_failure_at === null || at > a.last_failure_at) a.last_failure_at = at
  }
  for (const r of rows.transition) get(r["breaker_name"] as string).transitions++
  for (const r of rows.fallback) get(r["breaker_name"] as string).fallbacks++
  if (acc.size === 0) return Effect.void
  const s = sql(t.totals)
  const list = Array.from(acc.values())
  return Effect.forEach(
    Array.from({ length: Math.ceil(list.length / 500) }, (_, i) => list.slice(i * 500, i * 500 + 500)),
    (chunk) =>
      sql`INSERT INTO ${s} ${sql.insert(chunk)}
        ON CONFLICT (breaker_name) DO UPDATE SET
          failures = ${s}.failures + excluded.failures,
          last_failure_at = CASE
            WHEN excluded.last_failure_at IS NULL OR ${s}.last_failure_at >= excluded.last_failure_at
            THEN ${s}.last_failure_at ELSE excluded.last_failure_at END,
          transitions = ${s}.transitions + excluded.transitions,
          fallbacks = ${s}.fallbacks + excluded.fallbacks`,
    { discard: true }
  )
}

export const writeBatch = (
  t: Tables,
  conn: { readonly sql: SqlClient.SqlClient; readonly dialect: Dialect },
  batch: { readonly items: ReadonlyArray<Item>; readonly counters: ReadonlyArray<CallCounter> }
): Effect.Effect<void, SqlError> =>
  Effect.suspend(() => {
    const rows: Record<Kind, Array<Row>> = {
      failure: [],
      transition: [],
      fallback: [],
      quarantine: [],
      usage: [],
      toolCall: []
    }
    for (const item of batch.items) {
      const [kind, row] = toRow(item)
      rows[kind].push(row)
    }
    const { dialect, sql } = conn
    const totalOf = { failure: "failures", transition: "transitions", fallback: "fallbacks" } as const
    const write = Effect.gen(function*() {
      for (const kind of KINDS) {
        const total = dialect === "pg" && kind in totalOf ? totalOf[kind as keyof typeof totalOf] : undefined
        yield* insertRows(t, sql, dialect, t[TABLE_OF[kind]], rows[kind], total)
      }
      yield* upsertCounters(t, sql, batch.counters)
      if (dialect !== "pg") yield* upsertTotals(t, sql, rows)
    })
    // in Postgres a batch of one kind is one statement, atomic by itself: no BEGIN/COMMIT round trips
    const kinds = Object.values(rows).filter((r) => r.length > 0).length
    return dialect === "pg" && kinds === 1 && batch.counters.length === 0 ? write : sql.withTransaction(write)
  })
