/**
 * The SQL ledger under faults: a database that cannot be opened, a full disk,
 * a lock held past the flush deadline. The pipeline never breaks, and every
 * record ends written or counted dropped (Ledger.stats).
 */
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"

import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import { CircuitBreaker, Ledger, withBreaker } from "agentarmour"
import { SqliteLedger } from "agentarmour/sqlite"
import Database from "better-sqlite3"
import { Effect, Either, Exit, Layer, type ParseResult, Schedule, Scope } from "effect"
import { tempDir as tempTestDir } from "./support/tmp.js"

const tempDir = () => tempTestDir("agentarmour-faults-")

const failure = (breakerName: string, i: number) =>
  new Ledger.FailureRecord({
    breakerName,
    category: "exception",
    errorType: "AgentError",
    errorMessage: `failure ${i}`,
    traceback: `AgentError: failure ${i}\n    at researchAgent`,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60))
  })

const invariant = (s: Ledger.LedgerStats) => s.recorded === s.written + s.dropped + s.pending

/** builds the layer in a scope closed by the caller */
const open = (layer: Layer.Layer<Ledger.Ledger, Ledger.LedgerError | ParseResult.ParseError>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ctx = yield* Layer.buildWithScope(layer, scope)
    return { ledger: ctx.unsafeMap.get(Ledger.Ledger.key) as Ledger.Ledger, scope }
  })

/** a failing and a succeeding call through a breaker with this ledger */
const pipeline = Effect.gen(function*() {
  const breaker = yield* CircuitBreaker.make({ name: "research", failureThreshold: 2 })
  const failed = yield* Effect.either(Effect.fail(new Error("rate limited")).pipe(withBreaker(breaker)))
  const ok = yield* Effect.succeed("answer").pipe(withBreaker(breaker))
  return { failed, ok }
})

describe("SqliteLedger in degraded mode", () => {
  it.live("a missing directory: the layer builds, the pipeline works, records are counted dropped", () =>
    Effect.gen(function*() {
      const filename = join(tempDir(), "no", "such", "dir", "ledger.db")
      const { ledger, scope } = yield* open(SqliteLedger.layer({ filename, reopenSchedule: Schedule.spaced("1 hour") }))
      const { failed, ok } = yield* pipeline.pipe(Effect.provideService(Ledger.Ledger, ledger))
      expect(Either.isLeft(failed) && (failed.left as Error).message).toBe("rate limited")
      expect(ok).toBe("answer")
      for (let i = 0; i < 10; i++) yield* ledger.recordFailure(failure("direct", i))
      yield* ledger.flush
      const stats = yield* ledger.stats
      expect(invariant(stats)).toBe(true)
      expect(stats.pending).toBe(0)
      expect(stats.written).toBe(0)
      expect(stats.dropped).toBe(stats.recorded)
      expect(stats.recorded).toBeGreaterThanOrEqual(11)
      expect(stats.lastError).toMatch(/directory|open/i)
      const read = yield* Effect.flip(ledger.failures())
      expect(read._tag).toBe("LedgerError")
      yield* Scope.close(scope, Exit.void)
    }))

  it.live("a file of garbage bytes: the layer builds, records are dropped, the invariant holds", () =>
    Effect.gen(function*() {
      const filename = join(tempDir(), "garbage.db")
      writeFileSync(filename, Buffer.alloc(8192, 0x5a))
      const { ledger, scope } = yield* open(SqliteLedger.layer({ filename, reopenSchedule: Schedule.spaced("1 hour") }))
      yield* pipeline.pipe(Effect.provideService(Ledger.Ledger, ledger))
      for (let i = 0; i < 25; i++) yield* ledger.recordFailure(failure("garbage", i))
      yield* ledger.flush
      const stats = yield* ledger.stats
      expect(stats).toMatchObject({ written: 0, pending: 0 })
      expect(stats.dropped).toBe(stats.recorded)
      expect(stats.lastError).toMatch(/not a database/i)
      yield* Scope.close(scope, Exit.void)
    }))

  it.live("Ledger.layerSql on a client whose file is not a database builds and runs degraded", () =>
    Effect.gen(function*() {
      const filename = join(tempDir(), "junk.db")
      writeFileSync(filename, "definitely not sqlite ".repeat(500))
      const layer = Ledger.layerSql({ reopenSchedule: Schedule.spaced("1 hour") }).pipe(
        // the client itself opens (no WAL pragma); the ledger finds no database behind it
        Layer.provide(SqliteClient.layer({ filename, disableWAL: true }))
      )
      const { ledger, scope } = yield* open(
        layer as Layer.Layer<Ledger.Ledger, Ledger.LedgerError | ParseResult.ParseError>
      )
      yield* ledger.recordTransition(
        new Ledger.TransitionRecord({
          breakerName: "a",
          fromState: "CLOSED",
          toState: "OPEN",
          reason: "r",
          createdAt: new Date()
        })
      )
      yield* ledger.flush
      expect(yield* ledger.stats).toMatchObject({ recorded: 1, written: 0, dropped: 1, pending: 0 })
      yield* Scope.close(scope, Exit.void)
    }))

  it.live("a database that comes back receives writes (reopened on the schedule)", () =>
    Effect.gen(function*() {
      const dir = join(tempDir(), "later")
      const filename = join(dir, "ledger.db")
      const { ledger, scope } = yield* open(
        SqliteLedger.layer({ filename, reopenSchedule: Schedule.spaced("50 millis") })
      )
      yield* ledger.recordFailure(failure("early", 1))
      yield* ledger.flush
      expect((yield* ledger.stats).dropped).toBe(1)
      mkdirSync(dir)
      // wait (generously) until the background reopen succeeded
      let healthy = false
      for (let i = 0; i < 200 && !healthy; i++) {
        yield* Effect.sleep("50 millis")
        healthy = (yield* ledger.stats).lastError === null
      }
      expect(healthy).toBe(true)
      for (let i = 0; i < 5; i++) yield* ledger.recordFailure(failure("late", i))
      yield* ledger.flush
      expect(yield* ledger.stats).toMatchObject({ recorded: 6, written: 5, dropped: 1, pending: 0 })
      yield* Scope.close(scope, Exit.void)
      const db = new Database(filename, { readonly: true })
      expect(db.prepare("SELECT COUNT(*) AS n FROM cb_failures").get()).toEqual({ n: 5 })
      db.close()
    }))
})

describe("SqliteLedger options", () => {
  it.live("bad options are the only way the layer fails: an error naming the option (a ParseError for durations)", () =>
    Effect.gen(function*() {
      const filename = join(tempDir(), "options.db")
      const bad = [
        [{ flushTimeout: "soon" }, "flushTimeout", "ParseError"],
        [{ retention: "-3d" }, "retention", "LedgerError"],
        [{ queueCapacity: 0 }, "queueCapacity", "LedgerError"],
        [{ batchSize: 1.5 }, "batchSize", "LedgerError"],
        [{ tablePrefix: "drop table;" }, "tablePrefix", "LedgerError"]
      ] as const
      for (const [options, field, tag] of bad) {
        const error = yield* Effect.flip(
          Layer.build(SqliteLedger.layer({ filename, ...(options as object) })).pipe(Effect.scoped)
        )
        expect(error._tag).toBe(tag)
        expect(error.message).toContain(field)
      }
    }))
})

describe("SqliteLedger under a lock", () => {
  it.live("a lock held longer than flushTimeout: closing returns while the lock is held, the records are counted dropped", () =>
    Effect.gen(function*() {
      const filename = join(tempDir(), "locked.db")
      const { ledger, scope } = yield* open(SqliteLedger.layer({ filename, flushTimeout: "500 millis" }))
      yield* ledger.flush
      const locker = new Database(filename)
      locker.exec("BEGIN EXCLUSIVE")
      try {
        for (let i = 0; i < 300; i++) yield* ledger.recordFailure(failure("locked", i))
        yield* Scope.close(scope, Exit.void)
        // we get here with the lock still held: the close did not wait for the database
        const stats = yield* ledger.stats
        expect(stats).toMatchObject({ recorded: 300, written: 0, dropped: 300, pending: 0 })
      } finally {
        locker.exec("ROLLBACK")
        locker.close()
      }
      const db = new Database(filename, { readonly: true })
      expect(db.prepare("SELECT COUNT(*) AS n FROM cb_failures").get()).toEqual({ n: 0 })
      db.close()
    }))

  it.live("flush on a locked database returns within flushTimeout with pending = 0", () =>
    Effect.gen(function*() {
      const filename = join(tempDir(), "flush.db")
      const { ledger, scope } = yield* open(SqliteLedger.layer({ filename, flushTimeout: "300 millis" }))
      yield* ledger.flush
      const locker = new Database(filename)
      locker.exec("BEGIN EXCLUSIVE")
      for (let i = 0; i < 50; i++) yield* ledger.recordFailure(failure("flush", i))
      yield* ledger.flush
      const during = yield* ledger.stats
      locker.exec("ROLLBACK")
      locker.close()
      expect(during).toMatchObject({ recorded: 50, pending: 0, dropped: 50 })
      // the writer works again once the lock is gone
      yield* ledger.recordFailure(failure("flush", 99))
      yield* ledger.flush
      expect(yield* ledger.stats).toMatchObject({ recorded: 51, written: 1, pending: 0 })
      yield* Scope.close(scope, Exit.void)
    }))

  it.live(
    "stats hold recorded = written + dropped + pending at every sample during a multi-second exclusive lock",
    () =>
      Effect.gen(function*() {
        const filename = join(tempDir(), "sampled.db")
        const { ledger, scope } = yield* open(SqliteLedger.layer({
          filename,
          queueCapacity: 500,
          batchSize: 50,
          writeRetry: Schedule.spaced("100 millis").pipe(Schedule.upTo("1 second"))
        }))
        yield* ledger.flush
        const locker = new Database(filename)
        locker.exec("BEGIN EXCLUSIVE")
        const samples: Array<Ledger.LedgerStats> = []
        let i = 0
        const started = Date.now()
        while (Date.now() - started < 3000) {
          for (let k = 0; k < 20; k++) yield* ledger.recordFailure(failure("sampled", i++))
          samples.push(yield* ledger.stats)
          yield* Effect.sleep("10 millis")
        }
        locker.exec("COMMIT")
        locker.close()
        for (let k = 0; k < 20; k++) yield* ledger.recordFailure(failure("sampled", i++))
        yield* ledger.flush
        const end = yield* ledger.stats
        yield* Scope.close(scope, Exit.void)
        expect(samples.length).toBeGreaterThan(20)
        expect(samples.filter((s) => !invariant(s))).toEqual([])
        // the lock outlived the retries: some records were dropped, counted, never written
        expect(samples.some((s) => s.dropped > 0)).toBe(true)
        expect(end.pending).toBe(0)
        expect(end.recorded).toBe(i)
        expect(invariant(end)).toBe(true)
        const db = new Database(filename, { readonly: true })
        expect((db.prepare("SELECT COUNT(*) AS n FROM cb_failures").get() as { n: number }).n).toBe(end.written)
        db.close()
      }),
    30_000
  )
})

describe("SqliteLedger on a full disk", () => {
  it.live(
    "under a file-size limit, the rows in the file equal stats.written and the rest is counted dropped",
    () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const filename = join(dir, "full.db")
        const script = join(import.meta.dirname, "fixtures", "ledgerUnderFileLimit.ts")
        const tsx = join(import.meta.dirname, "..", "node_modules", "tsx", "dist", "loader.mjs")
        // 4096 blocks of 512 bytes = 2 MB per file, far below the 6 MB the records need
        const { stdout } = yield* Effect.promise(() =>
          promisify(execFile)("sh", [
            "-c",
            `ulimit -f 4096 && exec "${process.execPath}" --import "${tsx}" "${script}" "${filename}"`
          ], {
            cwd: join(import.meta.dirname, ".."),
            env: { ...process.env, NO_COLOR: "1" },
            maxBuffer: 10_000_000
          })
        )
        const line = stdout.split("\n").find((l) => l.startsWith("STATS "))
        expect(line).toBeDefined()
        const stats = JSON.parse(line!.slice(6)) as Ledger.LedgerStats
        expect(stats.recorded).toBe(3000)
        expect(stats.pending).toBe(0)
        expect(stats.dropped).toBeGreaterThan(0)
        expect(stats.written).toBeGreaterThan(0)
        expect(invariant(stats)).toBe(true)
        const db = new Database(filename, { readonly: true })
        const rows = (db.prepare("SELECT COUNT(*) AS n FROM cb_failures").get() as { n: number }).n
        db.close()
        expect(rows).toBe(stats.written)
      }),
    60_000
  )
})

describe("SqliteLedger whose file is deleted or replaced under it", () => {
  const count = (filename: string) => {
    const db = new Database(filename, { readonly: true })
    try {
      return (db.prepare("SELECT COUNT(*) AS n FROM cb_failures").get() as { n: number }).n
    } finally {
      db.close()
    }
  }
  const removeDb = (filename: string) => {
    for (const f of [filename, `${filename}-wal`, `${filename}-shm`]) rmSync(f, { force: true })
  }

  it.live("deleted (db, -wal, -shm): the ledger reopens at its path, and written counts only rows in that file", () =>
    Effect.gen(function*() {
      const filename = join(tempDir(), "deleted.db")
      const { ledger, scope } = yield* open(SqliteLedger.layer({ filename }))
      for (let i = 0; i < 100; i++) yield* ledger.recordFailure(failure("before", i))
      yield* ledger.flush
      removeDb(filename)
      for (let i = 0; i < 10_000; i++) yield* ledger.recordFailure(failure("after", i))
      yield* ledger.flush
      const stats = yield* ledger.stats
      const read = yield* ledger.failures({ breaker: "after", limit: 20_000 })
      yield* Scope.close(scope, Exit.void)
      // the path names a ledger again, holding every record made after the deletion
      expect(existsSync(filename)).toBe(true)
      expect(count(filename)).toBe(10_000)
      expect(read).toHaveLength(10_000)
      expect(stats).toMatchObject({ recorded: 10_100, written: 10_100, dropped: 0, pending: 0 })
      expect(invariant(stats)).toBe(true)
    }))

  it.live("replaced by another file: the ledger writes to the file at its path, not to the one it held", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const filename = join(dir, "replaced.db")
      const { ledger, scope } = yield* open(SqliteLedger.layer({ filename }))
      for (let i = 0; i < 10; i++) yield* ledger.recordFailure(failure("before", i))
      yield* ledger.flush
      // moved away (a log rotation) and an empty file in its place
      renameSync(filename, join(dir, "rotated.db"))
      rmSync(`${filename}-wal`, { force: true })
      rmSync(`${filename}-shm`, { force: true })
      writeFileSync(filename, "")
      for (let i = 0; i < 50; i++) yield* ledger.recordFailure(failure("after", i))
      yield* ledger.flush
      const stats = yield* ledger.stats
      yield* Scope.close(scope, Exit.void)
      expect(count(filename)).toBe(50)
      expect(stats).toMatchObject({ recorded: 60, written: 60, dropped: 0 })
    }))

  it.live("deleted with its directory: what cannot be written is counted dropped, with the reason in lastError", () =>
    Effect.gen(function*() {
      const dir = join(tempDir(), "gone")
      mkdirSync(dir)
      const filename = join(dir, "ledger.db")
      const { ledger, scope } = yield* open(
        SqliteLedger.layer({ filename, reopenSchedule: Schedule.spaced("1 hour") })
      )
      for (let i = 0; i < 100; i++) yield* ledger.recordFailure(failure("before", i))
      yield* ledger.flush
      rmSync(dir, { recursive: true, force: true })
      for (let i = 0; i < 1_000; i++) yield* ledger.recordFailure(failure("after", i))
      yield* ledger.flush
      const stats = yield* ledger.stats
      yield* Scope.close(scope, Exit.void)
      expect(stats).toMatchObject({ recorded: 1_100, written: 100, dropped: 1_000, pending: 0 })
      expect(stats.lastError).not.toBeNull()
      expect(existsSync(filename)).toBe(false)
    }))
})
