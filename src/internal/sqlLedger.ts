/**
 * The ledger on any `SqlClient`, assembled from `internal/ledger/`: options
 * (`options.ts`), the connection and degraded mode (`connection.ts`,
 * `reopen.ts`), migrations, the write queue and its background writer
 * (`writerState.ts`, `writer.ts`, `batchWrite.ts`), reads computed in SQL
 * (`reader.ts`, `summary.ts`, `toolCalls.ts`) and retention (`retention.ts`).
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import type * as Scope from "effect/Scope"

import { addCall, addFallback } from "./ledger/callCounters.js"
import type { Connector } from "./ledger/connection.js"
import { decodeOptions } from "./ledger/options.js"
import type { SqlOptions } from "./ledger/options.js"
import type { Reader } from "./ledger/reader.js"
import { LedgerError } from "./ledger/records.js"
import { openFirst } from "./ledger/reopen.js"
import { startRetention } from "./ledger/retention.js"
import { make as makeLedger } from "./ledger/service.js"
import type { Ledger } from "./ledger/service.js"
import { tables } from "./ledger/tables.js"
import { flushFor, offer, startTicker, startWriter } from "./ledger/writer.js"
import { LedgerWriter } from "./ledger/writerState.js"
import { recordCallMembers } from "./ledgerSync.js"

/** closing the scope writes everything queued, for at most flushTimeout whatever the database does */
const flushOnClose = (w: LedgerWriter): Effect.Effect<void, never, Scope.Scope> =>
  Effect.addFinalizer(() =>
    Effect.flatMap(flushFor(w, w.options.flushTimeout), (lost) =>
      lost > 0
        ? Effect.logError(
          `agentarmour ledger (${w.connector.target}): ${lost} records could not be written before shutdown ` +
            `(flushTimeout ${Duration.format(w.options.flushTimeout)}); ${w.dropped} dropped in total`
        )
        : w.dropped > 0
        ? Effect.logWarning(
          `agentarmour ledger (${w.connector.target}): closed; ${w.dropped} records were dropped in total`
        )
        : Effect.void)
  )

/** reads flush first (briefly) so a process sees its own records; a ledger not open fails them */
const reading = (w: LedgerWriter) => {
  const unavailable = Effect.suspend(() =>
    Effect.fail(
      new LedgerError({ message: `the ledger ${w.connector.target} is not open: ${w.lastError ?? "opening"}` })
    )
  )
  const wait = Duration.min(w.options.flushTimeout, Duration.seconds(2))
  return <A>(f: (reader: Reader) => Effect.Effect<A, LedgerError>): Effect.Effect<A, LedgerError> =>
    Effect.zipRight(
      // a read never gives records up: past the wait it reads what is there
      flushFor(w, wait, false),
      Effect.suspend(() => {
        const conn = w.connection
        return conn === undefined ? unavailable : f(conn.reader)
      })
    )
}

/** the `Ledger` service over a writer */
const ledgerOf = (w: LedgerWriter): Ledger => {
  const read = reading(w)
  return makeLedger({
    recordFailure: (record) => offer(w, { _tag: "failure", record }),
    recordFailureCause: (input) => offer(w, { _tag: "failureCause", input }),
    recordTransition: (record) => offer(w, { _tag: "transition", record }),
    recordFallback: (record) =>
      Effect.suspend(() => {
        w.addCounter(record.breakerName, record.createdAt, addFallback(record.strategy))
        return offer(w, { _tag: "fallback", record })
      }),
    recordQuarantine: (record) => offer(w, { _tag: "quarantine", record }),
    ...recordCallMembers((record) => w.addCounter(record.breakerName, record.createdAt, addCall(record))),
    recordUsage: (record) => offer(w, { _tag: "usage", record }),
    recordToolCall: (record) => offer(w, { _tag: "toolCall", record }),
    failures: (q) => read((r) => r.failures(q)),
    transitions: (q) => read((r) => r.transitions(q)),
    fallbacks: (q) => read((r) => r.fallbacks(q)),
    quarantines: (q) => read((r) => r.quarantines(q)),
    callStats: (q) => read((r) => r.callStats(q)),
    usage: (q) => read((r) => r.usage(q)),
    toolCalls: (q) => read((r) => r.toolCalls(q)),
    summary: read((r) => r.summary),
    stats: Effect.sync(() => w.stats),
    flush: Effect.asVoid(flushFor(w, w.options.flushTimeout))
  })
}

/** the read-write ledger: connection (degraded mode), migrations, write queue, background writer, retention */
export const make = (
  options: SqlOptions,
  connector: Connector
): Effect.Effect<Ledger, LedgerError | ParseResult.ParseError, Scope.Scope> =>
  Effect.gen(function*() {
    const decoded = yield* decodeOptions(connector.owner ?? "Ledger.layerSql", options)
    const scope = yield* Effect.scope
    const w = new LedgerWriter(decoded, tables(decoded.prefix), connector, scope)
    yield* startWriter(w)
    yield* openFirst(w)
    yield* startTicker(w)
    if (decoded.retention !== undefined) {
      yield* startRetention({
        prefix: decoded.prefix,
        age: decoded.retention,
        interval: decoded.pruneInterval,
        currentSql: () => w.connection?.sql,
        scope
      })
    }
    yield* flushOnClose(w)
    return ledgerOf(w)
  })

/** `Ledger.layerSql`: the ledger on the `SqlClient` of the context */
export const layerSqlEffect = (
  options: SqlOptions
): Effect.Effect<Ledger, LedgerError | ParseResult.ParseError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => make(options, { target: "the SQL database", owner: "Ledger.layerSql", connect: Effect.succeed(sql) })
  )
