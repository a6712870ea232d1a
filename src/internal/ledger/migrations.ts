/**
 * The ledger's tables, created and upgraded by `@effect/sql`'s `Migrator`
 * (0001: 0.1's tables; 0002: call statistics, usage, running totals and the
 * indexes of the reads; 0003: ToolGuard's tool calls).
 *
 * @internal
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

import type { TablePrefix } from "../tablePrefix.js"
import { countTotals } from "./summary.js"
import { tables } from "./tables.js"

/** runs the migrations of a ledger with this prefix (idempotent; an older ledger is upgraded) */
export const migrate = (prefix: TablePrefix) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    const id = sql.onDialectOrElse({
      pg: () => sql.unsafe("BIGSERIAL PRIMARY KEY"),
      mysql: () => sql.unsafe("BIGINT AUTO_INCREMENT PRIMARY KEY"),
      orElse: () => sql.unsafe("INTEGER PRIMARY KEY AUTOINCREMENT")
    })
    const index = (name: string, table: string, columns: string) =>
      sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_${name}`)} ON ${sql(table)} (${sql.unsafe(columns)})`
    const init = Effect.gen(function*() {
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.failures)} (
        id ${id},
        breaker_name TEXT NOT NULL,
        category TEXT NOT NULL,
        error_type TEXT NOT NULL,
        error_message TEXT NOT NULL,
        traceback TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* index("breaker_idx", t.failures, "breaker_name, created_at")
      yield* index("time_idx", t.failures, "created_at")
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.transitions)} (
        id ${id},
        breaker_name TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* index("breaker_idx", t.transitions, "breaker_name, created_at")
      yield* index("time_idx", t.transitions, "created_at")
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.fallbacks)} (
        id ${id},
        breaker_name TEXT NOT NULL,
        strategy TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* index("breaker_idx", t.fallbacks, "breaker_name, created_at")
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.quarantines)} (
        id ${id},
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        node TEXT NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* index("node_idx", t.quarantines, "node, created_at")
    })
    // 0.2: call statistics, usage, and indexes matching the reads (per breaker in id order, by time)
    const statsUsageIndexes = Effect.gen(function*() {
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.stats)} (
        breaker_name TEXT NOT NULL,
        minute TEXT NOT NULL,
        calls BIGINT NOT NULL DEFAULT 0,
        failures BIGINT NOT NULL DEFAULT 0,
        rejections BIGINT NOT NULL DEFAULT 0,
        timeouts BIGINT NOT NULL DEFAULT 0,
        slow_calls BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (breaker_name, minute)
      )`
      yield* index("minute_idx", t.stats, "minute")
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.statsFallbacks)} (
        breaker_name TEXT NOT NULL,
        minute TEXT NOT NULL,
        strategy TEXT NOT NULL,
        count BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (breaker_name, minute, strategy)
      )`
      yield* index("minute_idx", t.statsFallbacks, "minute")
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.usage)} (
        id ${id},
        node TEXT NOT NULL,
        budget TEXT NOT NULL,
        run_id TEXT,
        model TEXT,
        tokens_in BIGINT NOT NULL,
        tokens_out BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        created_at TEXT NOT NULL
      )`
      yield* index("time_idx", t.usage, "created_at")
      yield* index("node_idx", t.usage, "node, id")
      yield* index("run_idx", t.usage, "run_id, id")
      yield* index("breaker_id_idx", t.failures, "breaker_name, id")
      yield* index("breaker_id_idx", t.transitions, "breaker_name, id")
      yield* index("breaker_id_idx", t.fallbacks, "breaker_name, id")
      yield* index("time_idx", t.fallbacks, "created_at")
      yield* index("node_id_idx", t.quarantines, "node, id")
      yield* index("time_idx", t.quarantines, "created_at")
      // per-breaker running totals, kept by the writer in the same transaction as the rows:
      // the summary reads 1 row per breaker instead of counting millions
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.totals)} (
        breaker_name TEXT PRIMARY KEY,
        failures BIGINT NOT NULL DEFAULT 0,
        last_failure_at TEXT,
        transitions BIGINT NOT NULL DEFAULT 0,
        fallbacks BIGINT NOT NULL DEFAULT 0
      )`
      yield* rebuildTotals(prefix)
    })
    // 0.3: ToolGuard's decisions
    const toolCalls = Effect.gen(function*() {
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t.toolCalls)} (
        id ${id},
        run_id TEXT,
        node TEXT NOT NULL,
        tool TEXT NOT NULL,
        call_id TEXT,
        outcome TEXT NOT NULL,
        detail TEXT,
        created_at TEXT NOT NULL
      )`
      yield* index("tool_idx", t.toolCalls, "tool, id")
      yield* index("run_idx", t.toolCalls, "run_id, id")
      yield* index("time_idx", t.toolCalls, "created_at")
    })
    yield* Migrator.make({})({
      loader: Migrator.fromRecord({
        "0001_create_ledger": init,
        "0002_stats_usage_indexes": statsUsageIndexes,
        "0003_tool_calls": toolCalls
      }),
      table: t.migrations
    })
  })

/** recomputes the per-breaker totals from the rows (migration of an existing ledger) */
export const rebuildTotals = (prefix: TablePrefix) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    yield* sql`DELETE FROM ${sql(t.totals)}`
    yield* sql`INSERT INTO ${sql(t.totals)} (breaker_name, failures, last_failure_at, transitions, fallbacks)
      ${countTotals(sql, t)}`
  })
