import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"

import { describe, expect, it } from "@effect/vitest"
import { CircuitBreaker, Ledger, withBreaker } from "agentarmour"
import { SqliteLedger } from "agentarmour/sqlite"
import Database from "better-sqlite3"
import { Effect, Layer, Metric } from "effect"
import { withLedger } from "./support/ledger.js"
import { tempDir as tempTestDir } from "./support/tmp.js"

const tempDb = () => join(tempTestDir("agentarmour-"), "ledger.db")

const failure = (breakerName: string, i: number) =>
  new Ledger.FailureRecord({
    breakerName,
    category: "exception",
    errorType: "AgentError",
    errorMessage: `failure ${i}`,
    traceback: `AgentError: failure ${i}\n    at researchAgent`,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i))
  })

describe("SqliteLedger", () => {
  it.live("persists failures and transitions of a real breaker to the file, in the documented tables", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      yield* Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name: "research", failureThreshold: 2 })
        yield* Effect.either(Effect.fail(new Error("rate limited")).pipe(withBreaker(breaker)))
        yield* Effect.either(Effect.fail(new Error("rate limited")).pipe(withBreaker(breaker)))
      }).pipe(Effect.provide(SqliteLedger.layer({ filename })))
      const db = new Database(filename, { readonly: true })
      const failures = db.prepare("SELECT * FROM cb_failures ORDER BY id").all() as Array<Record<string, unknown>>
      const transitions = db.prepare("SELECT * FROM cb_transitions").all() as Array<Record<string, unknown>>
      db.close()
      expect(failures).toHaveLength(2)
      expect(failures[0]).toMatchObject({
        breaker_name: "research",
        category: "exception",
        error_type: "Error",
        error_message: "rate limited"
      })
      expect(String(failures[0]!.created_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(transitions).toEqual([
        expect.objectContaining({ breaker_name: "research", from_state: "CLOSED", to_state: "OPEN" })
      ])
    }))

  it.live("reads come back newest first, filtered and limited, and the summary is computed in SQL", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      yield* withLedger(SqliteLedger.layer({ filename }), (ledger) =>
        Effect.gen(function*() {
          for (let i = 0; i < 5; i++) yield* ledger.recordFailure(failure(i % 2 === 0 ? "a" : "b", i))
          yield* ledger.recordTransition(
            new Ledger.TransitionRecord({
              breakerName: "a",
              fromState: "CLOSED",
              toState: "OPEN",
              reason: "3 failures",
              createdAt: new Date()
            })
          )
          yield* ledger.recordFallback!(
            new Ledger.FallbackRecord({ breakerName: "a", strategy: "cache", createdAt: new Date() })
          )
          const a = yield* ledger.failures({ breaker: "a", limit: 2 })
          expect(a.map((f) => f.errorMessage)).toEqual(["failure 4", "failure 2"])
          const summary = yield* ledger.summary
          expect(summary.map((s) => [s.breakerName, s.state, s.failuresTotal, s.transitions, s.fallbacksServed]))
            .toEqual([
              ["a", "OPEN", 3, 1, 1],
              ["b", "CLOSED", 2, 0, 0]
            ])
          expect(summary[0]!.lastFailureAt?.toISOString()).toBe("2026-01-01T00:00:04.000Z")
        }))
    }))

  it.live("a table prefix keeps two ledgers apart in one file", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      yield* withLedger(SqliteLedger.layer({ filename, tablePrefix: "staging_" }), (l) =>
        l.recordFailure(failure("x", 1)))
      yield* withLedger(SqliteLedger.layer({ filename }), (l) =>
        l.recordFailure(failure("y", 2)))
      const db = new Database(filename, { readonly: true })
      expect(db.prepare("SELECT breaker_name FROM staging_failures").all()).toEqual([{ breaker_name: "x" }])
      expect(db.prepare("SELECT breaker_name FROM cb_failures").all()).toEqual([{ breaker_name: "y" }])
      db.close()
    }))

  it.live("closing the layer's scope flushes every queued record", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      yield* withLedger(SqliteLedger.layer({ filename, batchSize: 100 }), (l) =>
        Effect.forEach(
          Array.from({ length: 5000 }, (_, i) => failure("bulk", i)),
          l.recordFailure,
          { discard: true }
        ))
      const db = new Database(filename, { readonly: true })
      expect(db.prepare("SELECT COUNT(*) AS n FROM cb_failures").get()).toEqual({ n: 5000 })
      db.close()
    }))

  it.live("a locked database leaves the pipeline fast and loses nothing once released", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      yield* withLedger(SqliteLedger.layer({ filename }), (ledger) =>
        Effect.gen(function*() {
          yield* ledger.flush
          const locker = new Database(filename)
          locker.exec("BEGIN EXCLUSIVE")
          const started = performance.now()
          for (let i = 0; i < 200; i++) yield* ledger.recordFailure(failure("locked", i))
          const elapsed = performance.now() - started
          expect(elapsed).toBeLessThan(200) // recording never waits for the lock
          yield* Effect.sleep("300 millis") // the writer is retrying meanwhile
          locker.exec("COMMIT")
          locker.close()
          yield* ledger.flush
          const all = yield* ledger.failures({ breaker: "locked", limit: 1000 })
          expect(all).toHaveLength(200)
        }))
    }))

  it.live("when the queue overflows, the oldest records are dropped and counted", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      const before = (yield* Metric.value(Ledger.droppedRecords)).count
      yield* withLedger(SqliteLedger.layer({ filename, queueCapacity: 10 }), (ledger) =>
        Effect.gen(function*() {
          yield* ledger.flush
          const locker = new Database(filename)
          locker.exec("BEGIN EXCLUSIVE")
          for (let i = 0; i < 100; i++) yield* ledger.recordFailure(failure("overflow", i))
          locker.exec("COMMIT")
          locker.close()
          yield* ledger.flush
          const kept = yield* ledger.failures({ breaker: "overflow", limit: 1000 })
          // the batch in flight when the lock was taken plus the newest 10 survive; the rest were dropped
          expect(kept.length).toBeLessThan(100)
          expect(kept[0]!.errorMessage).toBe("failure 99")
          const dropped = (yield* Metric.value(Ledger.droppedRecords)).count - before
          expect(dropped).toBe(100 - kept.length)
        }))
    }))

  it.live("the read-only layer refuses a missing file without creating it", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      const error = yield* Effect.flip(Layer.build(SqliteLedger.layerReadonly({ filename })).pipe(Effect.scoped))
      expect(error.message).toBe(`no ledger at ${filename}`)
      const { existsSync } = yield* Effect.promise(() => import("node:fs"))
      expect(existsSync(filename)).toBe(false)
    }))

  it.live("the read-only layer names a file that is not a database, and a wrong prefix", () =>
    Effect.gen(function*() {
      const junk = tempDb()
      writeFileSync(junk, "this is not sqlite ".repeat(100))
      const e1 = yield* Effect.flip(Layer.build(SqliteLedger.layerReadonly({ filename: junk })).pipe(Effect.scoped))
      expect(e1.message).toContain("not an SQLite database")
      const filename = tempDb()
      yield* withLedger(SqliteLedger.layer({ filename }), (l) => l.recordFailure(failure("a", 1)))
      const e2 = yield* Effect.flip(
        Layer.build(SqliteLedger.layerReadonly({ filename, tablePrefix: "nope_" })).pipe(Effect.scoped)
      )
      expect(e2.message).toContain(`not an agentarmour ledger with table prefix "nope_"`)
      const rows = yield* withLedger(SqliteLedger.layerReadonly({ filename }), (l) => l.failures())
      expect(rows).toHaveLength(1)
    }))
})

describe("SqliteLedger options", () => {
  const bad: ReadonlyArray<[string, Partial<Record<"flushTimeout" | "pruneInterval", unknown>>]> = [
    ["flushTimeout", { flushTimeout: -1 }],
    ["flushTimeout", { flushTimeout: Number.NaN }],
    ["flushTimeout", { flushTimeout: "-5 seconds" }],
    ["flushTimeout", { flushTimeout: Number.POSITIVE_INFINITY }],
    ["pruneInterval", { pruneInterval: -1 }],
    ["pruneInterval", { pruneInterval: 0 }],
    ["pruneInterval", { pruneInterval: Number.NaN }],
    ["pruneInterval", { pruneInterval: "-5 seconds" }]
  ]
  for (const [option, options] of bad) {
    it.live(`a bad ${option} (${String(Object.values(options)[0])}) is a ParseError naming it, and no file is made`, () =>
      Effect.gen(function*() {
        const filename = tempDb()
        const layer = SqliteLedger.layer({ filename, retention: "30 days", ...(options as object) })
        const error = yield* Effect.flip(withLedger(layer, () => Effect.void))
        expect(error._tag).toBe("ParseError")
        expect(error.message).toContain("SqliteLedger.layer")
        expect(error.message).toContain(option)
        expect(existsSync(filename)).toBe(false)
      }))
  }

  it.live("good durations are still accepted (flushTimeout 0 means give up at once; a 5-minute pruneInterval)", () =>
    withLedger(
      SqliteLedger.layer({ filename: tempDb(), flushTimeout: 0, pruneInterval: "5 minutes", retention: "30 days" }),
      (l) => l.stats
    ).pipe(Effect.map((stats) => expect(stats.lastError).toBeNull())))
})
