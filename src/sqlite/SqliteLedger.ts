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
import { existsSync, statSync } from "node:fs"

import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"

import { migrate } from "../internal/ledger/migrations.js"
import { makeReader } from "../internal/ledger/reader.js"
import { pruneOlderThan } from "../internal/ledger/retention.js"
import { tables } from "../internal/ledger/tables.js"
import * as internal from "../internal/sqlLedger.js"
import { decodeTablePrefix } from "../internal/tablePrefix.js"
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
 * layer's scope closes (for at most `flushTimeout`, default 10 s).
 *
 * It never fails because of its database: when the file cannot be opened
 * (missing directory, not a database, read-only file system) the ledger runs
 * degraded — one warning in the log, records counted as dropped in
 * `Ledger.stats` — and retries opening on `reopenSchedule`. It fails with a
 * `LedgerError` only on bad options (`tablePrefix`, durations).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<Ledger.Ledger, Ledger.LedgerError | ParseResult.ParseError> => {
  const filename = options?.filename ?? DEFAULT_FILENAME
  return Layer.scoped(
    Ledger.Ledger,
    internal.make(options ?? {}, {
      target: filename,
      owner: "SqliteLedger.layer",
      identity: () => fileIdentity(filename),
      connect: Effect.provide(SqliteClient.make({ filename }), Reactivity.layer)
    })
  )
}

/** the device and inode the path names now, `undefined` when it names no file */
const fileIdentity = (filename: string): string | undefined => {
  if (filename === ":memory:" || filename === "") return "memory"
  try {
    const st = statSync(filename, { bigint: true })
    return `${st.dev}:${st.ino}`
  } catch {
    return undefined
  }
}

/** fails with a `LedgerError` naming the problem when `filename` is not an SQLite ledger with this prefix */
const checkLedger = (filename: string, prefix: string, failuresTable: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const found = yield* sql<
      { name: string }
    >`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${failuresTable}`.pipe(
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
        message: `${filename} is not an agentarmour ledger with table prefix "${prefix}" (no table ${failuresTable})`
      })
    }
  })

/**
 * Deletes rows older than `olderThan` (`30d`, `12h`, `90m` or any `Duration`)
 * from every table of an existing ledger file, keeping each breaker's latest
 * transition. Returns how many rows went. Fails with a `LedgerError` when the
 * file is missing, not a ledger, or the duration is not one.
 *
 * @since 0.2.0
 * @category constructors
 */
export const prune = (
  options: Options & { readonly olderThan: Duration.DurationInput | string }
): Effect.Effect<number, Ledger.LedgerError> => {
  const filename = options.filename ?? DEFAULT_FILENAME
  return Effect.gen(function*() {
    if (Option.isNone(Ledger.parseAge(options.olderThan))) {
      return yield* new Ledger.LedgerError({
        message: `not a duration: ${JSON.stringify(options.olderThan)} (try 30d, 12h, 90m)`
      })
    }
    const prefix = yield* decodeTablePrefix(options.tablePrefix)
    const t = tables(prefix)
    if (!existsSync(filename)) return yield* new Ledger.LedgerError({ message: `no ledger at ${filename}` })
    return yield* Effect.gen(function*() {
      yield* checkLedger(filename, prefix, t.failures)
      yield* migrate(prefix).pipe(
        Effect.mapError((e) =>
          new Ledger.LedgerError({ message: `cannot upgrade ${filename}: ${e.message}`, cause: e })
        )
      )
      return yield* pruneOlderThan(prefix, options.olderThan as Duration.DurationInput)
    }).pipe(
      Effect.provideServiceEffect(SqlClient.SqlClient, SqliteClient.make({ filename })),
      Effect.provide(Reactivity.layer),
      Effect.scoped,
      Effect.catchAllDefect((d) =>
        new Ledger.LedgerError({ message: `cannot open ${filename}: ${String((d as Error)?.message ?? d)}` })
      )
    )
  })
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
  const open = Effect.gen(function*() {
    const prefix = yield* decodeTablePrefix(options?.tablePrefix)
    yield* checkLedger(filename, prefix, tables(prefix).failures)
    const reader = yield* makeReader(prefix)
    const optional = <A>(self: Effect.Effect<ReadonlyArray<A>, Ledger.LedgerError>) =>
      // tables added after 0.1.0 may be missing in an older file: read them as empty
      Effect.catchAll(self, () => Effect.succeed<ReadonlyArray<A>>([]))
    return Ledger.make({
      recordFailure: () => Effect.void,
      recordTransition: () => Effect.void,
      recordFallback: () => Effect.void,
      recordQuarantine: () => Effect.void,
      recordUsage: () => Effect.void,
      recordCall: () => Effect.void,
      callStats: (q) => optional(reader.callStats(q)),
      usage: (q) => optional(reader.usage(q)),
      toolCalls: (q) => optional(reader.toolCalls(q)),
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
    if (!statSync(filename).isFile()) {
      return Effect.fail(new Ledger.LedgerError({ message: `${filename} is not a file` }))
    }
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
          : new Ledger.LedgerError({
            message: `cannot open ledger ${filename}: ${(e as { message?: string }).message ?? String(e)}`,
            cause: e
          })
      )
    )
  )
}

/** @internal the file exists check is also used by the CLI */
export const exists = (filename: string): boolean => existsSync(filename)
