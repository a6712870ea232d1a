/**
 * Retention: deleting the rows older than a cutoff from every ledger table
 * (keeping each breaker's latest transition, its current state), by hand
 * (`prune`) or in the background on the `Clock` (`retention`).
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

import { decodeTablePrefix } from "../tablePrefix.js"
import type { TablePrefix } from "../tablePrefix.js"
import { parseAge } from "./age.js"
import { minuteOf } from "./callCounters.js"
import { iso, num } from "./columns.js"
import { describeCause } from "./describeCause.js"
import { LedgerError } from "./records.js"
import { tables } from "./tables.js"

/**
 * Deletes rows created before `cutoff` from every ledger table, keeping each
 * breaker's latest transition. Returns how many rows went.
 */
export const prune = (prefix: TablePrefix, cutoff: Date): Effect.Effect<number, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    const before = iso(cutoff)
    const minute = minuteOf(cutoff.getTime())
    const keep = sql`id NOT IN (SELECT MAX(id) FROM ${sql(t.transitions)} GROUP BY breaker_name)`
    const targets = [
      [t.failures, sql`created_at < ${before}`],
      [t.transitions, sql`created_at < ${before} AND ${keep}`],
      [t.fallbacks, sql`created_at < ${before}`],
      [t.quarantines, sql`created_at < ${before}`],
      [t.usage, sql`created_at < ${before}`],
      [t.toolCalls, sql`created_at < ${before}`],
      [t.stats, sql`minute < ${minute}`],
      [t.statsFallbacks, sql`minute < ${minute}`]
    ] as const
    const counted = [[t.failures, "failures"], [t.transitions, "transitions"], [t.fallbacks, "fallbacks"]] as const
    return yield* sql.withTransaction(Effect.gen(function*() {
      // the running totals lose what goes (counted per breaker over the time index, before deleting)
      for (const [table, column] of counted) {
        const condition = targets.find(([name]) => name === table)![1]
        const gone = yield* sql<{ breaker_name: string; n: unknown }>`
          SELECT breaker_name, COUNT(*) AS n FROM ${sql(table)} WHERE ${condition} GROUP BY breaker_name`
        for (const g of gone) {
          yield* sql`UPDATE ${sql(t.totals)} SET ${sql(column)} = ${sql(column)} - ${num(g.n)}
            WHERE breaker_name = ${g.breaker_name}`
        }
      }
      yield* sql`UPDATE ${sql(t.totals)} SET last_failure_at = NULL WHERE failures <= 0`
      let total = 0
      for (const [table, condition] of targets) {
        const [row] = yield* sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM ${sql(table)} WHERE ${condition}`
        const n = num(row?.n)
        if (n > 0) yield* sql`DELETE FROM ${sql(table)} WHERE ${condition}`
        total += n
      }
      return total
    }))
  })

/** `prune` with the cutoff `olderThan` before the `Clock`'s now */
export const pruneOlderThan = (
  tablePrefix: string | undefined,
  olderThan: Duration.DurationInput
): Effect.Effect<number, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const age = parseAge(olderThan)
    if (Option.isNone(age)) {
      return yield* new LedgerError({
        message: `not a duration: ${JSON.stringify(olderThan)} (try 30d, 12h, 90m)`
      })
    }
    const prefix = yield* decodeTablePrefix(tablePrefix)
    const now = yield* Clock.currentTimeMillis
    return yield* prune(prefix, new Date(now - Duration.toMillis(age.value))).pipe(
      Effect.mapError((e) => new LedgerError({ message: `could not prune the ledger: ${e.message}`, cause: e }))
    )
  })

/**
 * Prunes rows older than `age` every `interval`, in a fiber of `scope`, on
 * the database `currentSql` gives (none while the ledger is not open).
 */
export const startRetention = (options: {
  readonly prefix: TablePrefix
  readonly age: Duration.Duration
  readonly interval: Duration.Duration
  readonly currentSql: () => SqlClient.SqlClient | undefined
  readonly scope: Scope.Scope
}): Effect.Effect<void> => {
  const { age, prefix } = options
  const pruneOnce = Effect.suspend(() => {
    const sql = options.currentSql()
    if (sql === undefined) return Effect.void
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      prune(prefix, new Date(now - Duration.toMillis(age))).pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.flatMap((n) =>
          n > 0
            ? Effect.logDebug(`agentarmour ledger: retention removed ${n} rows older than ${Duration.format(age)}`)
            : Effect.void
        ),
        Effect.catchAllCause((cause) =>
          Effect.logWarning(`agentarmour ledger: retention pruning failed: ${describeCause(cause)}`)
        )
      ))
  })
  return Effect.asVoid(Effect.forkIn(Effect.repeat(pruneOnce, Schedule.spaced(options.interval)), options.scope))
}
