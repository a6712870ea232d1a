/**
 * Call statistics, usage, stats, failure causes, the 0.2 summary fields,
 * migrations, prune and retention — on the memory ledger and the SQL ledger.
 */
import { join } from "node:path"

import { describe, expect, it } from "@effect/vitest"
import { Ledger } from "agentarmour"
import { SqliteLedger } from "agentarmour/sqlite"
import Database from "better-sqlite3"
import { Cause, Duration, Effect, Exit, Layer, type ParseResult, Scope, TestClock } from "effect"
import { tempDir as tempTestDir } from "./support/tmp.js"

const tempDb = () => join(tempTestDir("agentarmour-stats-"), "ledger.db")

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0)
const at = (ms: number) => new Date(T0 + ms)

const open = (layer: Layer.Layer<Ledger.Ledger, Ledger.LedgerError | ParseResult.ParseError>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ctx = yield* Layer.buildWithScope(layer, scope)
    return { ledger: ctx.unsafeMap.get(Ledger.Ledger.key) as Ledger.Ledger, scope }
  })

const memory = Effect.map(Ledger.makeMemory(), (ledger) => ({ ledger, close: Effect.void }))
const sqlite = (filename = tempDb()) =>
  Effect.map(open(SqliteLedger.layer({ filename })), ({ ledger, scope }) => ({
    ledger,
    close: Scope.close(scope, Exit.void)
  }))

const kinds = [["memory", () => memory], ["sqlite", () => sqlite()]] as const

/** the same recorded activity for every ledger kind */
const activity = (ledger: Ledger.Ledger) =>
  Effect.gen(function*() {
    const call = (outcome: Ledger.CallRecord["outcome"], ms: number, slow = false, breakerName = "research") =>
      ledger.recordCall({ breakerName, outcome, slow, createdAt: at(ms) })
    yield* call("success", 0)
    yield* call("success", 1_000, true)
    yield* call("failure", 2_000)
    yield* call("timeout", 3_000)
    yield* call("rejected", 4_000)
    yield* call("success", 61_000) // the next minute
    yield* call("success", 5_000, false, "quiet") // calls, but no failure and no transition
    yield* ledger.recordFallback(
      new Ledger.FallbackRecord({ breakerName: "research", strategy: "cache", createdAt: at(4_000) })
    )
    yield* ledger.recordFallback(
      new Ledger.FallbackRecord({ breakerName: "research", strategy: "degrade", createdAt: at(62_000) })
    )
    yield* ledger.recordFailureCause({
      breakerName: "research",
      category: "exception",
      cause: Cause.fail(new TypeError("model returned garbage")),
      createdAt: at(2_000)
    })
    yield* ledger.recordTransition(
      new Ledger.TransitionRecord({
        breakerName: "research",
        fromState: "CLOSED",
        toState: "OPEN",
        reason: "2 failures",
        createdAt: at(3_000)
      })
    )
  })

describe("Ledger call statistics, usage and summary", () => {
  for (const [kind, make] of kinds) {
    it.live(`${kind}: recordCall and recordFallback add up per breaker and minute`, () =>
      Effect.gen(function*() {
        const { ledger, close } = yield* make()
        yield* activity(ledger)
        // counted again: a second flush adds to the same minute rows
        yield* ledger.flush
        yield* ledger.recordCall({ breakerName: "research", outcome: "failure", slow: false, createdAt: at(10_000) })
        const stats = yield* ledger.callStats({ breaker: "research" })
        expect(
          stats.map((
            s
          ) => [s.minute.toISOString(), s.calls, s.failures, s.timeouts, s.rejections, s.slowCalls, s.fallbacks])
        )
          .toEqual([
            [at(0).toISOString(), 5, 2, 1, 1, 1, { cache: 1 }],
            [at(60_000).toISOString(), 1, 0, 0, 0, 0, { degrade: 1 }]
          ])
        const since = yield* ledger.callStats({ since: at(60_000) })
        expect(since.map((s) => s.breakerName)).toEqual(["research"])
        yield* close
      }))

    it.effect(`${kind}: the summary has since, reason, calls, failure rate, rejections and fallbacks by strategy`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(T0 + 120_000)
        const { ledger, close } = yield* make()
        yield* activity(ledger)
        const summary = yield* ledger.summary
        expect(summary.map((s) => s.breakerName)).toEqual(["quiet", "research"])
        const [quiet, research] = summary
        expect(quiet).toMatchObject({
          state: "CLOSED",
          since: null,
          reason: null,
          calls: 1,
          failures: 0,
          failureRate: 0
        })
        expect(research).toMatchObject({
          state: "OPEN",
          reason: "2 failures",
          calls: 5,
          failures: 2,
          rejections: 1,
          fallbacks: { cache: 1, degrade: 1 },
          failuresTotal: 1,
          failuresLast24h: 1,
          transitions: 1,
          fallbacksServed: 2
        })
        expect(research!.failureRate).toBeCloseTo(2 / 5)
        expect(research!.since?.toISOString()).toBe(at(3_000).toISOString())
        // days later, the 24-hour figures are empty; the totals stay
        yield* TestClock.setTime(T0 + 3 * 24 * 3600_000)
        const later = (yield* ledger.summary).find((s) => s.breakerName === "research")!
        expect(later).toMatchObject({
          calls: 0,
          failures: 0,
          failureRate: 0,
          rejections: 0,
          fallbacks: {},
          failuresTotal: 1,
          failuresLast24h: 0
        })
        yield* close
      }))

    it.effect(`${kind}: a failure cause is rendered with the error's type, message and traceback`, () =>
      Effect.gen(function*() {
        const { ledger, close } = yield* make()
        yield* activity(ledger)
        const [f] = yield* ledger.failures({ breaker: "research" })
        expect(f).toMatchObject({
          errorType: "TypeError",
          errorMessage: "model returned garbage",
          category: "exception"
        })
        expect(f!.traceback).toContain("TypeError: model returned garbage")
        yield* close
      }))

    it.effect(`${kind}: usage adds up per node and per run, biggest cost first`, () =>
      Effect.gen(function*() {
        const { ledger, close } = yield* make()
        const usage = (node: string, runId: string | null, tokensIn: number, costUsd: number, ms = 0) =>
          ledger.recordUsage(
            new Ledger.UsageRecord({
              node,
              budget: "daily",
              runId,
              model: "gpt-x",
              tokensIn,
              tokensOut: tokensIn / 2,
              costUsd,
              createdAt: at(ms)
            })
          )
        yield* usage("research", "run-1", 100, 0.5)
        yield* usage("research", "run-2", 300, 1.5)
        yield* usage("writer", "run-1", 50, 0.25)
        yield* usage("writer", null, 10, 0.01, 600_000)
        const byNode = yield* ledger.usage()
        expect(byNode.map((u) => [u.key, u.calls, u.tokensIn, u.tokensOut])).toEqual([
          ["research", 2, 400, 200],
          ["writer", 2, 60, 30]
        ])
        expect(byNode[0]!.costUsd).toBeCloseTo(2)
        const byRun = yield* ledger.usage({ by: "run" })
        expect(byRun.map((u) => u.key)).toEqual(["run-2", "run-1", "-"])
        expect((yield* ledger.usage({ since: at(60_000) })).map((u) => [u.key, u.calls])).toEqual([["writer", 1]])
        expect(yield* ledger.usage({ limit: 1 })).toHaveLength(1)
        yield* close
      }))

    it.effect(`${kind}: stats count every record once written`, () =>
      Effect.gen(function*() {
        const { ledger, close } = yield* make()
        yield* activity(ledger)
        yield* ledger.flush
        // 2 fallbacks, 1 failure, 1 transition (calls are counters, not records)
        expect(yield* ledger.stats).toEqual({ recorded: 4, written: 4, dropped: 0, pending: 0, lastError: null })
        yield* close
      }))
  }

  it.effect("the no-op ledger answers empty stats", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.recordCall({ breakerName: "x", outcome: "success", slow: false, createdAt: at(0) })
      expect(yield* ledger.stats).toEqual({ recorded: 0, written: 0, dropped: 0, pending: 0, lastError: null })
      expect(yield* ledger.callStats()).toEqual([])
    }).pipe(Effect.provide(Ledger.layerNoop)))
})

describe("SQL ledger schema", () => {
  it.live("a 0.1 ledger is upgraded: the 0.2 tables and the (breaker_name, id) indexes are added", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      const first = yield* sqlite(filename)
      yield* first.ledger.recordFailure(
        new Ledger.FailureRecord({
          breakerName: "a",
          category: "exception",
          errorType: "E",
          errorMessage: "m",
          traceback: "t",
          createdAt: at(0)
        })
      )
      yield* first.close
      // make it look like a 0.1 file: no 0.2 tables, indexes or migration
      const db = new Database(filename)
      db.exec(`DROP TABLE cb_stats; DROP TABLE cb_stats_fallbacks; DROP TABLE cb_usage; DROP TABLE cb_tool_calls;
        DROP INDEX cb_failures_breaker_id_idx; DROP INDEX cb_transitions_breaker_id_idx;
        DELETE FROM cb_migrations WHERE migration_id >= 2;`)
      db.close()
      const second = yield* sqlite(filename)
      yield* second.ledger.recordCall({ breakerName: "a", outcome: "success", slow: false, createdAt: at(0) })
      expect((yield* second.ledger.callStats()).map((s) => s.calls)).toEqual([1])
      expect(yield* second.ledger.failures()).toHaveLength(1)
      yield* second.close
      const check = new Database(filename, { readonly: true })
      const names = (check.prepare("SELECT name FROM sqlite_master").all() as Array<{ name: string }>).map((r) =>
        r.name
      )
      const plan = check.prepare(
        "EXPLAIN QUERY PLAN SELECT * FROM cb_failures WHERE breaker_name = 'a' ORDER BY id DESC LIMIT 20"
      ).all() as Array<{ detail: string }>
      check.close()
      expect(names).toEqual(
        expect.arrayContaining(["cb_stats", "cb_stats_fallbacks", "cb_usage", "cb_failures_breaker_id_idx"])
      )
      // per-breaker reads use an index in id order: no sort step
      expect(plan.map((p) => p.detail).join(" ")).not.toMatch(/TEMP B-TREE/)
    }))
})

describe("prune and retention", () => {
  const DAY = 24 * 3600_000
  const old = (name: string, days: number) =>
    new Ledger.FailureRecord({
      breakerName: name,
      category: "exception",
      errorType: "E",
      errorMessage: `${days} days old`,
      traceback: "t",
      createdAt: new Date(T0 - days * DAY)
    })
  const transition = (name: string, days: number, toState: Ledger.BreakerState) =>
    new Ledger.TransitionRecord({
      breakerName: name,
      fromState: toState === "OPEN" ? "CLOSED" : "OPEN",
      toState,
      reason: `${days} days old`,
      createdAt: new Date(T0 - days * DAY)
    })

  it.effect("retention prunes old rows in the background, on the clock, keeping each breaker's latest transition", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const { ledger, scope } = yield* open(
        SqliteLedger.layer({ filename: tempDb(), retention: "30d", pruneInterval: "1 hour" })
      )
      yield* ledger.recordFailure(old("a", 40))
      yield* ledger.recordFailure(old("a", 10))
      yield* ledger.recordTransition(transition("a", 50, "OPEN"))
      yield* ledger.recordTransition(transition("a", 45, "CLOSED"))
      yield* ledger.recordTransition(transition("b", 60, "OPEN"))
      yield* ledger.recordUsage(
        new Ledger.UsageRecord({
          node: "a",
          budget: "b",
          runId: null,
          model: null,
          tokensIn: 1,
          tokensOut: 1,
          costUsd: 0,
          createdAt: new Date(T0 - 90 * DAY)
        })
      )
      yield* ledger.flush
      expect(yield* ledger.failures()).toHaveLength(2)
      yield* TestClock.adjust("1 hour")
      expect((yield* ledger.failures()).map((f) => f.errorMessage)).toEqual(["10 days old"])
      const kept = yield* ledger.transitions()
      expect(kept.map((t) => [t.breakerName, t.toState])).toEqual([["b", "OPEN"], ["a", "CLOSED"]])
      expect((yield* ledger.summary).map((s) => [s.breakerName, s.state, s.failuresTotal, s.transitions])).toEqual([
        ["a", "CLOSED", 1, 1],
        ["b", "OPEN", 0, 1]
      ])
      expect(yield* ledger.usage()).toEqual([])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("SqliteLedger.prune removes rows older than the age and says how many; a bad age is a LedgerError", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const filename = tempDb()
      const { ledger, scope } = yield* open(SqliteLedger.layer({ filename }))
      for (const days of [100, 50, 31, 29, 1]) yield* ledger.recordFailure(old("a", days))
      yield* ledger.recordTransition(transition("a", 100, "OPEN"))
      yield* ledger.recordTransition(transition("a", 90, "CLOSED"))
      yield* Scope.close(scope, Exit.void)
      expect(yield* SqliteLedger.prune({ filename, olderThan: "30d" })).toBe(4) // 3 failures + 1 transition
      expect(yield* SqliteLedger.prune({ filename, olderThan: "30 days" })).toBe(0)
      expect(yield* SqliteLedger.prune({ filename, olderThan: "12h" })).toBe(2) // the 2 newer failures; the latest transition stays
      const error = yield* Effect.flip(SqliteLedger.prune({ filename, olderThan: "soon" }))
      expect(error.message).toContain("not a duration")
      const missing = yield* Effect.flip(SqliteLedger.prune({ filename: `${filename}.nope`, olderThan: "1d" }))
      expect(missing.message).toContain("no ledger at")
    }))

  it("parseAge reads 30d, 12h, 90m and Duration strings, and refuses the rest", () => {
    const ms = (s: string) => {
      const o = Ledger.parseAge(s)
      return o._tag === "Some" ? Duration.toMillis(o.value) : null
    }
    expect(ms("30d")).toBe(30 * 24 * 3600_000)
    expect(ms("90m")).toBe(90 * 60_000)
    expect(ms("12h")).toBe(12 * 3600_000)
    expect(ms("30 days")).toBe(30 * 24 * 3600_000)
    for (const bad of ["", "soon", "-1d", "0d", "Infinity"]) expect(ms(bad)).toBeNull()
  })
})
