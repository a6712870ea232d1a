/**
 * The audit ledger in a local SQLite file (WAL mode), the default ledger.
 *
 * ```ts
 * import { SqliteLedger } from "agentarmour/sqlite"
 * const LedgerLive = SqliteLedger.layer({ filename: "cascadebreaker.db" })
 * ```
 *
 * @since 0.1.0
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { existsSync, statSync } from "node:fs"
import * as SqlClient from "@effect/sql/SqlClient"
import * as internal from "../internal/sqlLedger.js"
import * as Ledger from "../Ledger.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Ledger.SqlOptions {
  /** the database file, default `cascadebreaker.db` */
  readonly filename?: string | undefined
}

/**
 * The default database file.
 *
 * @since 0.1.0
 */
export const DEFAULT_FILENAME = "cascadebreaker.db"

/**
 * A read-write ledger in a SQLite file (created with its tables when
 * missing). Writes are batched by a background fiber and flushed when the
 * layer's scope closes. Fails with a `LedgerError` when the file cannot be
 * opened as a database.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Ledger.Ledger, Ledger.LedgerError> => {
  const filename = options?.filename ?? DEFAULT_FILENAME
  return Ledger.layerSql(options).pipe(
    Layer.provide(SqliteClient.layer({ filename })),
    Layer.mapError((e) =>
      e instanceof Ledger.LedgerError
        ? e
        : new Ledger.LedgerError({ message: `cannot open ledger ${filename}: ${(e as { message?: string }).message ?? String(e)}`, cause: e })
    )
  )
}

/**
 * A read-only view of an existing ledger, for the CLI and the dashboard: it
 * never creates the file and never writes (`record*` do nothing). Fails with
 * a `LedgerError` saying "no ledger at PATH" when the file is missing, and
 * naming the problem when the file is not an SQLite database or has no
 * ledger tables with this prefix.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerReadonly = (options?: Options): Layer.Layer<Ledger.Ledger, Ledger.LedgerError> => {
  const filename = options?.filename ?? DEFAULT_FILENAME
  const prefix = options?.tablePrefix ?? "cb_"
  const open = Effect.gen(function*() {
    const t = yield* Effect.try({ try: () => internal.tables(prefix), catch: (e) => e as Ledger.LedgerError })
    const sql = yield* SqlClient.SqlClient
    const found = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${t.failures}`.pipe(
      Effect.mapError((e) =>
        new Ledger.LedgerError({
          message: /not a database|file is encrypted/i.test(String(e.cause ?? e.message))
            ? `${filename} is not an SQLite database`
            : `cannot read ${filename}: ${e.message}`,
          cause: e
        })
      )
    )
    if (found.length === 0) {
      return yield* new Ledger.LedgerError({
        message: `${filename} is not an agentarmour ledger with table prefix "${prefix}" (no table ${t.failures})`
      })
    }
    const reader = yield* internal.makeReader(prefix)
    const optional = <A>(self: Effect.Effect<ReadonlyArray<A>, Ledger.LedgerError>) =>
      // tables added after 0.1.0 may be missing in an older file: read them as empty
      Effect.catchAll(self, () => Effect.succeed<ReadonlyArray<A>>([]))
    return Ledger.make({
      recordFailure: () => Effect.void,
      recordTransition: () => Effect.void,
      recordFallback: () => Effect.void,
      recordQuarantine: () => Effect.void,
      failures: reader.failures,
      transitions: reader.transitions,
      fallbacks: (q) => optional(reader.fallbacks(q)),
      quarantines: (q) => optional(reader.quarantines(q)),
      summary: reader.summary,
      flush: Effect.void
    })
  })
  const checked = Effect.suspend(() => {
    if (!existsSync(filename)) return Effect.fail(new Ledger.LedgerError({ message: `no ledger at ${filename}` }))
    if (!statSync(filename).isFile()) return Effect.fail(new Ledger.LedgerError({ message: `${filename} is not a file` }))
    return Effect.succeed(
      Layer.effect(Ledger.Ledger, open).pipe(
        Layer.provide(SqliteClient.layer({ filename, readonly: true, disableWAL: true }))
      )
    )
  })
  return Layer.unwrapEffect(checked).pipe(
    Layer.catchAll((e) =>
      Layer.fail(
        e instanceof Ledger.LedgerError
          ? e
          : new Ledger.LedgerError({ message: `cannot open ledger ${filename}: ${(e as { message?: string }).message ?? String(e)}`, cause: e })
      )
    )
  )
}

/** @internal the file exists check is also used by the CLI */
export const exists = (filename: string): boolean => existsSync(filename)

