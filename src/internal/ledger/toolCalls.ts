/**
 * ToolGuard's decisions in the ledger (table `cb_tool_calls`, migration
 * 0003): a record as a row, and the read of the newest ones by tool and run.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

import { date, iso } from "./columns.js"
import type { Row } from "./columns.js"
import { limitOf, readError } from "./queries.js"
import { ToolCallRecord } from "./records.js"
import type { LedgerError, ToolCallOutcome, ToolCallQuery } from "./records.js"

/** a tool call as a row of `cb_tool_calls` */
export const toolCallRow = (r: ToolCallRecord): Row => ({
  run_id: r.runId,
  node: r.node,
  tool: r.tool,
  call_id: r.callId,
  outcome: r.outcome,
  detail: r.detail,
  created_at: iso(r.createdAt)
})

interface ToolCallRow {
  readonly run_id: string | null
  readonly node: string
  readonly tool: string
  readonly call_id: string | null
  readonly outcome: string
  readonly detail: string | null
  readonly created_at: string
}

const fromRow = (r: ToolCallRow): ToolCallRecord =>
  new ToolCallRecord({
    runId: r.run_id,
    node: r.node,
    tool: r.tool,
    callId: r.call_id,
    outcome: r.outcome as ToolCallOutcome,
    detail: r.detail,
    createdAt: date(r.created_at)
  }, true)

/** the newest tool calls of `table`, by tool and/or run (indexes on (tool, id) and (run_id, id)) */
export const readToolCalls = (sql: SqlClient.SqlClient, table: string) =>
(
  q?: ToolCallQuery
): Effect.Effect<ReadonlyArray<ToolCallRecord>, LedgerError> => {
  const conditions = [
    ...(q?.tool === undefined ? [] : [sql`tool = ${q.tool}`]),
    ...(q?.run === undefined ? [] : [sql`run_id = ${q.run}`])
  ]
  return sql<ToolCallRow>`SELECT run_id, node, tool, call_id, outcome, detail, created_at FROM ${sql(table)}
    ${conditions.length === 0 ? sql`` : sql`WHERE ${sql.and(conditions)}`} ORDER BY id DESC LIMIT ${limitOf(q)}`
    .pipe(
      Effect.map((rows) => rows.map(fromRow)),
      Effect.mapError(readError("tool calls"))
    )
}
