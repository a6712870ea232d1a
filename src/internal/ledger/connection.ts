/**
 * How the SQL ledger reaches its database: a `Connector` opens it afresh,
 * in its own scope, for every attempt; an opened `Connection` is migrated
 * and has its reader.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"

import type { TablePrefix } from "../tablePrefix.js"
import { describeCause } from "./describeCause.js"
import { migrate } from "./migrations.js"
import { makeReader } from "./reader.js"
import type { Reader } from "./reader.js"

/** how a ledger reaches its database: every attempt opens it afresh in its own scope */
export interface Connector {
  /** what the log names (a file path, "Postgres at host:port") */
  readonly target: string
  /** the API whose options these are, for error messages ("SqliteLedger.layer") */
  readonly owner?: string | undefined
  readonly connect: Effect.Effect<SqlClient.SqlClient, unknown, Scope.Scope>
  /**
   * What the target names now (a file's device and inode), `undefined` when
   * it names nothing: a ledger whose file is deleted or replaced under it
   * notices that this changed since it opened, and reopens.
   */
  readonly identity?: (() => string | undefined) | undefined
}

/** the SQL dialects the writer tells apart */
export type Dialect = "pg" | "sqlite" | "other"

/** an open, migrated database */
export interface Connection {
  readonly sql: SqlClient.SqlClient
  readonly reader: Reader
  readonly dialect: Dialect
  /** `connector.identity()` when it was opened */
  readonly identity: string | undefined
  /** closes it (its own scope, apart from the layer's) */
  readonly close: Effect.Effect<void>
}

/** whether the target no longer names the file this connection holds (deleted or replaced) */
export const isLost = (connector: Connector, conn: Connection): boolean =>
  connector.identity !== undefined && connector.identity() !== conn.identity

/** why a lost connection is reopened */
export const lostWhy = (connector: Connector): string =>
  `${connector.target} was deleted or replaced under the ledger; reopening`

const dialectOf = (sql: SqlClient.SqlClient): Dialect =>
  sql.onDialectOrElse({
    pg: () => "pg" as const,
    sqlite: () => "sqlite" as const,
    orElse: () => "other" as const
  })

/**
 * Opens the database once, in a child scope of `scope`, and migrates it;
 * fails with the one-line reason it could not.
 */
export const openConnection = (
  connector: Connector,
  prefix: TablePrefix,
  scope: Scope.Scope
): Effect.Effect<Connection, string> =>
  Effect.gen(function*() {
    const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
    const exit = yield* Effect.exit(
      Effect.gen(function*() {
        const sql = yield* connector.connect
        const dialect = dialectOf(sql)
        if (dialect === "sqlite") {
          // better-sqlite3 is synchronous: a long busy timeout would block the whole event
          // loop, so wait at most 50 ms in SQLite and retry from Effect instead
          yield* Effect.ignore(sql`PRAGMA busy_timeout = 50`)
        }
        yield* migrate(prefix).pipe(
          Effect.provideService(SqlClient.SqlClient, sql),
          // another process migrating at the same moment (a lock in SQLite, a duplicate
          // catalog row or migration id in Postgres): wait for it a little
          Effect.retry({
            schedule: Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(6))),
            while: (e) => dialect !== "sqlite" || /busy|locked/i.test(describeCause(Cause.fail(e)))
          })
        )
        const reader = yield* Effect.provideService(makeReader(prefix), SqlClient.SqlClient, sql)
        const identity = connector.identity?.()
        return { sql, reader, dialect, identity, close: Scope.close(child, Exit.void) } satisfies Connection
      }).pipe(Scope.extend(child))
    )
    if (Exit.isSuccess(exit)) return exit.value
    yield* Scope.close(child, Exit.void)
    return yield* Effect.fail(Cause.isInterruptedOnly(exit.cause) ? "interrupted" : describeCause(exit.cause))
  })
