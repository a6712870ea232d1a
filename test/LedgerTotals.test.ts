/**
 * The per-breaker totals of an SQLite ledger: a ledger whose totals table is
 * missing (a file from before 0.2) is summarised by counting its rows, and
 * migrating it fills the totals from those rows.
 */
import { join } from "node:path"

import { Ledger } from "agentarmour"
import { SqliteLedger } from "agentarmour/sqlite"
import Database from "better-sqlite3"
import { Effect, type Layer } from "effect"
import { describe, expect, it } from "vitest"

import { tempDir } from "./support/tmp.js"

const at = new Date("2026-01-01T00:00:00Z")

const write = (filename: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      for (let i = 0; i < 2; i++) {
        yield* ledger.recordFailure(
          new Ledger.FailureRecord({
            breakerName: "a",
            category: "exception",
            errorType: "Error",
            errorMessage: `boom ${i}`,
            traceback: "",
            createdAt: at
          })
        )
      }
      yield* ledger.recordTransition(
        new Ledger.TransitionRecord({
          breakerName: "a",
          fromState: "CLOSED",
          toState: "OPEN",
          reason: "r",
          createdAt: at
        })
      )
      yield* ledger.recordFallback(new Ledger.FallbackRecord({ breakerName: "b", strategy: "cache", createdAt: at }))
      yield* ledger.flush
    }).pipe(Effect.provide(SqliteLedger.layer({ filename })))
  )

const totalsOf = (layer: Layer.Layer<Ledger.Ledger, unknown>) =>
  Effect.runPromise(
    Effect.flatMap(Ledger.Ledger, (ledger) => ledger.summary).pipe(
      Effect.map((rows) => rows.map((r) => [r.breakerName, r.failuresTotal, r.transitions, r.fallbacksServed]).sort()),
      Effect.provide(layer)
    )
  )

const expected = [["a", 2, 1, 0], ["b", 0, 0, 1]]

describe("SQLite ledger totals", () => {
  it("a ledger without its totals table is summarised by counting its rows, and migrating it rebuilds them", async () => {
    const filename = join(tempDir("aa-totals-"), "ledger.db")
    await write(filename)
    expect(await totalsOf(SqliteLedger.layerReadonly({ filename }))).toEqual(expected)

    // a file as 0.1 left it: no totals table, and the migrations after the first not run
    const db = new Database(filename)
    db.exec("DROP TABLE cb_totals; DELETE FROM cb_migrations WHERE migration_id >= 2")
    db.close()
    expect(await totalsOf(SqliteLedger.layerReadonly({ filename }))).toEqual(expected)

    // opening it for writing migrates it: the totals table is rebuilt from the rows
    expect(await totalsOf(SqliteLedger.layer({ filename }))).toEqual(expected)
    const check = new Database(filename, { readonly: true })
    const rows = check.prepare("SELECT breaker_name, failures, transitions, fallbacks FROM cb_totals ORDER BY 1").all()
    check.close()
    expect(rows).toEqual([
      { breaker_name: "a", failures: 2, transitions: 1, fallbacks: 0 },
      { breaker_name: "b", failures: 0, transitions: 0, fallbacks: 1 }
    ])
  })
})
