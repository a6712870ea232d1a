/**
 * Generates a large ledger fast: the tables are created by the library (so
 * the file is a real, migrated ledger), then rows are generated inside
 * SQLite with `WITH RECURSIVE`, in one transaction.
 *
 * Transition `i` belongs to breaker `agent-(i % breakers)`; its `to_state` is
 * OPEN when `(floor(i / breakers) + i % breakers)` is odd, so each breaker's
 * latest state is known: see `expectedState`.
 */
import Database from "better-sqlite3"
import { Effect, Exit, Layer, Scope } from "effect"

import { SqliteLedger } from "../src/sqlite/index.js"

export interface Volume {
  readonly failures: number
  readonly transitions: number
  readonly breakers: number
  /** rows are spread over this many days before now (default 30) */
  readonly days?: number
}

/** the state generated for a breaker's latest transition */
export const expectedState = (v: Volume, breaker: number): "OPEN" | "CLOSED" => {
  const rounds = Math.floor(v.transitions / v.breakers)
  const last = (rounds - 1) * v.breakers + breaker
  return (Math.floor(last / v.breakers) + (last % v.breakers)) % 2 === 1 ? "OPEN" : "CLOSED"
}

export const generate = async (filename: string, v: Volume, now = Date.now()): Promise<void> => {
  // the library creates and migrates the tables
  await Effect.runPromise(Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Layer.buildWithScope(SqliteLedger.layer({ filename }), scope)
    yield* Scope.close(scope, Exit.void)
  }))
  const db = new Database(filename)
  const days = v.days ?? 30
  const start = (now - days * 86_400_000) / 1000
  const fstep = (days * 86_400) / Math.max(1, v.failures)
  const tstep = (days * 86_400) / Math.max(1, v.transitions)
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF")
  const n = (x: number) => String(Math.floor(x)) // integers inlined: bound numbers would be REAL
  const b = n(v.breakers)
  // bulk load without the secondary indexes, then build them once (sorted): much faster than
  // maintaining them row by row
  const indexes = db.prepare(
    `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
     AND tbl_name IN ('cb_failures', 'cb_transitions')`
  ).all() as Array<{ name: string; sql: string }>
  for (const i of indexes) db.exec(`DROP INDEX "${i.name}"`)
  db.transaction(() => {
    db.prepare(`
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${n(v.failures)} - 1)
      INSERT INTO cb_failures (breaker_name, category, error_type, error_message, traceback, created_at)
      SELECT 'agent-' || (i % ${b}), 'exception', 'AgentError', 'failure ' || i,
        'AgentError: failure ' || i || char(10) || '    at agent (agent.ts:1:1)',
        strftime('%Y-%m-%dT%H:%M:%fZ', ? + i * ?, 'unixepoch')
      FROM n`).run(start, fstep)
    db.prepare(`
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${n(v.transitions)} - 1)
      INSERT INTO cb_transitions (breaker_name, from_state, to_state, reason, created_at)
      SELECT 'agent-' || (i % ${b}),
        CASE WHEN ((i / ${b}) + (i % ${b})) % 2 = 1 THEN 'CLOSED' ELSE 'OPEN' END,
        CASE WHEN ((i / ${b}) + (i % ${b})) % 2 = 1 THEN 'OPEN' ELSE 'CLOSED' END,
        'generated ' || i,
        strftime('%Y-%m-%dT%H:%M:%fZ', ? + i * ?, 'unixepoch')
      FROM n`).run(start, tstep)
    // the running totals the writer keeps, rebuilt from the generated rows
    db.exec(`DELETE FROM cb_totals;
      INSERT INTO cb_totals (breaker_name, failures, last_failure_at, transitions, fallbacks)
      SELECT breaker_name, SUM(f), MAX(l), SUM(tr), 0 FROM (
        SELECT breaker_name, COUNT(*) AS f, MAX(created_at) AS l, 0 AS tr FROM cb_failures GROUP BY breaker_name
        UNION ALL SELECT breaker_name, 0, NULL, COUNT(*) FROM cb_transitions GROUP BY breaker_name
      ) x GROUP BY breaker_name`)
  })()
  for (const i of indexes) db.exec(i.sql)
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)")
  db.close()
}
