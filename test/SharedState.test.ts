import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import { CircuitBreaker, Ledger, withBreaker } from "agentarmour"
import { SharedState } from "agentarmour/pg"
import { Cause, Chunk, Context, Effect, Either, Fiber, Layer, Option, Stream, TestClock } from "effect"

const options = { syncInterval: "1 second", publishInterval: "20 millis", readInterval: "100 millis" } as const

/** one "process" on the board, alive for the test's scope */
const processOn = (board: SharedState.MemoryBoard | Map<string, SharedState.SharedBreakerState>) =>
  Layer.build(Layer.mergeAll(Ledger.layerMemory, SharedState.layerMemory(board, options)))

const sharedIn = (ctx: Context.Context<SharedState.SharedState>) => Context.get(ctx, SharedState.SharedState)

const makeIn = (ctx: Context.Context<Ledger.Ledger | SharedState.SharedState>, name = "research") =>
  CircuitBreaker.make({ name, failureThreshold: 2, recoveryTimeout: "30 seconds" }).pipe(Effect.provide(ctx))

const settle = Effect.repeatN(Effect.yieldNow(), 50)

/** publishes and lets the next write tick pass */
const publishNow = (shared: SharedState.SharedState, state: SharedState.SharedBreakerState) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(shared.publish(state))
    yield* settle
    yield* TestClock.adjust("20 millis")
    yield* settle
    return yield* Fiber.join(fiber)
  })

const opened = (breaker: string, at = 0, from?: SharedState.SharedBreakerState["state"]) => ({
  breaker,
  state: "OPEN" as const,
  openedAt: at,
  retryAt: at + 30_000,
  updatedAt: at,
  origin: "ignored",
  ...(from === undefined ? {} : { from })
})

const closed = (breaker: string, at: number, from: SharedState.SharedBreakerState["state"]) => ({
  breaker,
  state: "CLOSED" as const,
  openedAt: 0,
  retryAt: null,
  updatedAt: at,
  origin: "ignored",
  from
})

/** collects what a process receives for one breaker */
const collect = (shared: SharedState.SharedState, breaker: string) =>
  Effect.gen(function*() {
    const fiber = yield* Stream.runCollect(shared.subscribe(breaker)).pipe(Effect.forkScoped)
    yield* settle
    return fiber
  })

describe("SharedState", () => {
  it.scoped("a breaker opened in one process is OPEN in another, and closes with it", () =>
    Effect.gen(function*() {
      const board = new Map<string, SharedState.SharedBreakerState>()
      const a = yield* makeIn(yield* processOn(board))
      const b = yield* makeIn(yield* processOn(board))
      yield* settle
      yield* Effect.either(Effect.fail("503").pipe(withBreaker(a)))
      yield* Effect.either(Effect.fail("503").pipe(withBreaker(a)))
      yield* settle
      expect(board.get("research")?.state).toBe("OPEN")

      yield* TestClock.adjust("100 millis")
      expect(yield* b.state).toBe("OPEN")
      let calls = 0
      const rejected = yield* Effect.either(Effect.sync(() => ++calls).pipe(withBreaker(b)))
      expect(Either.getLeft(rejected).pipe((e) => e._tag === "Some" && e.value._tag)).toBe("CircuitOpenError")
      expect(calls).toBe(0)

      // process A probes after the recovery timeout and closes; B follows
      yield* TestClock.adjust("30 seconds")
      yield* Effect.succeed("ok").pipe(withBreaker(a))
      yield* settle
      yield* TestClock.adjust("100 millis")
      expect(yield* a.state).toBe("CLOSED")
      expect(yield* b.state).toBe("CLOSED")
      expect(yield* Effect.succeed("ok").pipe(withBreaker(b))).toBe("ok")
    }))

  it.effect("without a SharedState service breakers of the same name stay independent", () =>
    Effect.gen(function*() {
      const a = yield* CircuitBreaker.make({ name: "research", failureThreshold: 1 }).pipe(
        Effect.provide(Ledger.layerMemory)
      )
      const b = yield* CircuitBreaker.make({ name: "research", failureThreshold: 1 }).pipe(
        Effect.provide(Ledger.layerMemory)
      )
      yield* Effect.either(Effect.fail("x").pipe(withBreaker(a)))
      yield* settle
      expect(yield* a.state).toBe("OPEN")
      expect(yield* b.state).toBe("CLOSED")
    }))

  it.scoped("a publication is pushed to the other processes' subscribers at once, without a poll", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      const b = sharedIn(yield* processOn(board))
      yield* settle
      expect((yield* b.status).listening).toBe(true)
      const received = yield* collect(b, "research")
      const mine = yield* collect(a, "research")
      const before = board.statements
      expect(yield* a.publish(opened("research"))).toBe(true)
      yield* settle
      // one write; no time passed, so no poll and no heartbeat
      expect(board.statements - before).toBe(1)
      expect(Option.map(yield* b.read("research"), (s) => [s.state, s.version, s.origin])).toEqual(
        Option.some(["OPEN", 1, a.origin])
      )
      yield* Fiber.interrupt(received).pipe(Effect.zipRight(Fiber.interrupt(mine)))
      const got = yield* Fiber.await(received)
      expect(got._tag).toBe("Failure") // interrupted; the values were checked through read
    }))

  it.scoped("subscribers receive the other processes' states, never their own", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      const b = sharedIn(yield* processOn(board))
      yield* settle
      const inA = yield* Stream.take(a.subscribe("research"), 1).pipe(Stream.runCollect, Effect.forkScoped)
      const inB = yield* Stream.take(b.subscribe("research"), 1).pipe(Stream.runCollect, Effect.forkScoped)
      yield* settle
      yield* a.publish(opened("research"))
      yield* settle
      const [s] = Chunk.toReadonlyArray(yield* Fiber.join(inB))
      expect([s?.state, s?.origin]).toEqual(["OPEN", a.origin])
      yield* b.publish(closed("research", 10, "OPEN"))
      yield* settle
      expect(Chunk.toReadonlyArray(yield* Fiber.join(inA)).map((x) => [x.state, x.origin])).toEqual([[
        "CLOSED",
        b.origin
      ]])
    }))

  it.scoped("concurrent identical trips in two processes are written once: one publish wins", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      const b = sharedIn(yield* processOn(board))
      yield* settle
      const names = Array.from({ length: 50 }, (_, i) => `node-${i}`)
      const results = yield* Effect.forEach(
        names,
        (name) =>
          Effect.all([a.publish(opened(name, 1, "CLOSED")), b.publish(opened(name, 2, "CLOSED"))], { concurrency: 2 }),
        { concurrency: "unbounded" }
      )
      for (const [wonA, wonB] of results) expect(wonA !== wonB).toBe(true)
      for (const name of names) expect(board.rows.get(name)?.version).toBe(1)
    }))

  it.scoped("a trip from a process that already heard of the other's trip is not written again", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      const b = sharedIn(yield* processOn(board))
      yield* settle
      expect(yield* publishNow(a, opened("research"))).toBe(true)
      // no `from`: B's last known state is A's OPEN
      expect(yield* publishNow(b, opened("research", 5))).toBe(false)
      expect(board.rows.get("research")?.version).toBe(1)
      expect(board.rows.get("research")?.origin).toBe(a.origin)
    }))

  it.scoped("a trip is never lost: OPEN replaces a CLOSED it did not know of; a stale CLOSED does not replace OPEN", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      const b = sharedIn(yield* processOn(board))
      yield* settle
      expect(yield* publishNow(a, opened("research", 0, "CLOSED"))).toBe(true)
      expect(yield* publishNow(a, closed("research", 10, "HALF_OPEN"))).toBe(false) // from a HALF_OPEN never shared
      expect(yield* publishNow(b, opened("research", 20, "HALF_OPEN"))).toBe(false) // already OPEN
      expect(yield* publishNow(a, closed("research", 30, "OPEN"))).toBe(true)
      expect(yield* publishNow(b, opened("research", 40, "HALF_OPEN"))).toBe(true) // B's failed probe reopens it
      expect(board.rows.get("research")?.state).toBe("OPEN")
      expect(board.rows.get("research")?.version).toBe(3)
    }))

  it.scoped("a close decided on a row that changed meanwhile is refused, even when the row is back in the state it left", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      const b = sharedIn(yield* processOn(board))
      yield* settle
      expect(yield* publishNow(a, opened("research", 0, "CLOSED"))).toBe(true) // version 1
      // B probes and its probe fails: HALF_OPEN (version 2), OPEN again (version 3)
      expect(yield* publishNow(b, { ...opened("research", 10), state: "HALF_OPEN", from: "OPEN", version: 1 }))
        .toBe(true)
      expect(yield* publishNow(b, { ...opened("research", 20, "HALF_OPEN"), version: 2 })).toBe(true)
      // A's probe succeeded, decided on version 1: the row is OPEN again, but not the OPEN A knew
      expect(yield* publishNow(a, { ...closed("research", 30, "OPEN"), version: 1 })).toBe(false)
      expect([board.rows.get("research")?.state, board.rows.get("research")?.version]).toEqual(["OPEN", 3])
    }))

  it.scoped("a breaker takes a remote CLOSED whatever the clocks say: states are ordered by version", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const ctxA = yield* processOn(board)
      const b = sharedIn(yield* processOn(board))
      yield* settle
      // B (its clock 10 s behind A's) trips first: version 1
      expect(yield* publishNow(b, opened("research", -10_000, "CLOSED"))).toBe(true)
      // A's breaker, not having heard of it, trips on its own at A's time 0: the row is already OPEN
      const a = yield* makeIn(ctxA)
      yield* a.forceOpen
      yield* settle
      yield* TestClock.adjust("20 millis")
      yield* settle
      expect(board.rows.get("research")?.version).toBe(1)
      // B closes it at B's time -5,000: "older" than A's own opening, yet the newer state of the row
      expect(yield* publishNow(b, { ...closed("research", -5_000, "OPEN"), version: 1 })).toBe(true)
      yield* settle
      yield* TestClock.adjust("100 millis")
      yield* settle
      expect(board.rows.get("research")?.state).toBe("CLOSED")
      expect(yield* a.state).toBe("CLOSED")
    }))

  it.scoped("a state published while the store is down is published when it returns", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      const b = sharedIn(yield* processOn(board))
      yield* settle
      board.available = false
      const outcome = yield* Effect.fork(a.publish(opened("research")))
      yield* settle
      yield* TestClock.adjust("10 seconds")
      expect((yield* a.status).pending).toBe(1)
      expect((yield* a.status).reachable).toBe(false)
      expect(board.rows.size).toBe(0)
      expect(outcome.unsafePoll()).toBe(null)

      board.available = true
      yield* TestClock.adjust("3 seconds")
      yield* settle
      expect(yield* Fiber.join(outcome)).toBe(true)
      expect((yield* a.status).pending).toBe(0)
      expect(Option.map(yield* b.read("research"), (s) => s.state)).toEqual(Option.some("OPEN"))
    }))

  it.scoped("a frozen store holds nothing up: statements time out, polling takes over, the state is sent when it thaws", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      const b = sharedIn(yield* processOn(board))
      yield* settle
      board.frozen = true
      const outcome = yield* Effect.fork(a.publish(opened("research")))
      yield* settle
      yield* TestClock.adjust("12 seconds")
      yield* settle
      expect(yield* a.status).toMatchObject({ reachable: false, listening: false, pending: 1 })
      expect(outcome.unsafePoll()).toBe(null)
      board.frozen = false
      yield* TestClock.adjust("15 seconds")
      yield* settle
      expect(yield* Fiber.join(outcome)).toBe(true)
      expect(Option.map(yield* b.read("research"), (s) => s.state)).toEqual(Option.some("OPEN"))
    }))

  it.scoped("while its listening connection is down a process polls every row in one query per syncInterval", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      const b = sharedIn(yield* processOn(board))
      yield* settle
      board.listenable = false
      board.cutListeners()
      yield* settle
      expect((yield* b.status).listening).toBe(false)
      yield* Effect.forEach(
        ["research", ...Array.from({ length: 200 }, (_, i) => `node-${i}`)],
        (n) => Effect.fork(a.publish(opened(n)))
      )
      yield* settle
      yield* TestClock.adjust("20 millis")
      yield* settle
      expect(board.rows.size).toBe(201)
      expect(Option.isNone(yield* b.read("research"))).toBe(true)
      const before = board.reads
      yield* TestClock.adjust("980 millis")
      yield* settle
      expect(Option.map(yield* b.read("research"), (s) => s.state)).toEqual(Option.some("OPEN"))
      expect((yield* b.status).known).toBe(201)
      // 201 breakers, one query per process (A is not listening either)
      expect(board.reads - before).toBe(2)

      // the listening connection comes back: pushes resume, polling stops
      board.listenable = true
      yield* TestClock.adjust("3 seconds")
      yield* settle
      expect((yield* b.status).listening).toBe(true)
      yield* publishNow(a, closed("research", 5_000, "OPEN"))
      expect(Option.map(yield* b.read("research"), (s) => s.state)).toEqual(Option.some("CLOSED"))
    }))

  it.scoped("bounded load: 1,000 breakers' transitions in one tick are one statement", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      yield* settle
      const before = board.statements
      const names = Array.from({ length: 1000 }, (_, i) => `node-${i}`)
      const all = yield* Effect.forEach(names, (n) => Effect.fork(a.publish(opened(n))))
      yield* settle
      yield* TestClock.adjust("20 millis")
      yield* settle
      expect(yield* Effect.forEach(all, Fiber.join)).toEqual(names.map(() => true))
      // the first publication went at once, the other 999 in the next tick
      expect(board.statements - before).toBeLessThanOrEqual(2)
      expect(board.rows.size).toBe(1000)
    }))

  it.scoped("a row the store refuses never blocks the others: its batch is written row by row, the row stays local", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      board.refuses = (p) => p.breaker === "poison"
      const a = sharedIn(yield* processOn(board))
      const b = sharedIn(yield* processOn(board))
      yield* settle
      // one tick's batch: three good rows and a bad one
      const first = yield* Effect.fork(a.publish(opened("warm-up")))
      yield* settle
      const names = ["one", "poison", "two", "three"]
      const all = yield* Effect.forEach(names, (n) => Effect.fork(a.publish(opened(n))))
      yield* settle
      yield* TestClock.adjust("20 millis")
      yield* settle
      expect(yield* Fiber.join(first)).toBe(true)
      // the bad row's publish settles too: the process keeps (and records) it itself
      expect(yield* Effect.forEach(all, Fiber.join)).toEqual([true, true, true, true])
      expect([...board.rows.keys()].sort()).toEqual(["one", "three", "two", "warm-up"])
      for (const n of ["one", "two", "three"]) {
        expect(Option.map(yield* b.read(n), (s) => s.state)).toEqual(Option.some("OPEN"))
      }
      const status = yield* a.status
      expect([status.reachable, status.pending, status.rejected]).toEqual([true, 0, 1])
      // its later states are not sent again
      const writes = board.writes
      expect(yield* publishNow(a, closed("poison", 1, "OPEN"))).toBe(true)
      expect(board.writes).toBe(writes)
    }))

  it.scoped("a name with a NUL or another control character, or empty, is never sent: it stays local", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      yield* settle
      for (const name of ["nul\u0000byte", "tab\there", ""]) {
        expect(yield* publishNow(a, opened(name))).toBe(true)
      }
      expect(yield* publishNow(a, opened("normal"))).toBe(true)
      expect([...board.rows.keys()]).toEqual(["normal"])
      expect((yield* a.status).rejected).toBe(3)
    }))

  it.scoped("bounded load: at most one write per publishInterval while transitions keep coming", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      yield* settle
      const before = board.statements
      // 100 transitions, one every 2 ms, for 200 ms
      for (let i = 0; i < 100; i++) {
        yield* Effect.fork(a.publish(i % 2 === 0 ? opened(`n${i % 7}`, i) : closed(`n${i % 7}`, i, "OPEN")))
        yield* settle
        yield* TestClock.adjust("2 millis")
      }
      yield* TestClock.adjust("100 millis")
      yield* settle
      expect(board.statements - before).toBeLessThanOrEqual(200 / 20 + 2)
      expect((yield* a.status).pending).toBe(0)
    }))

  it.scoped("steps superseded before they were sent resolve as this process's own; a round trip sends nothing", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const a = sharedIn(yield* processOn(board))
      yield* settle
      board.available = false
      const steps = yield* Effect.all([
        Effect.fork(a.publish(opened("research", 1, "CLOSED"))),
        Effect.fork(a.publish({ ...opened("research", 2, "OPEN"), state: "HALF_OPEN" })),
        Effect.fork(a.publish(closed("research", 3, "HALF_OPEN")))
      ])
      yield* settle
      board.available = true
      const before = board.writes
      yield* TestClock.adjust("3 seconds")
      yield* settle
      expect(yield* Effect.forEach(steps, Fiber.join)).toEqual([true, true, true])
      expect(board.rows.size).toBe(0)
      expect(board.writes - before).toBe(0)
    }))
})

describe("SharedState with breakers and one shared ledger", () => {
  // Acceptance test for the breaker's use of the seam (docs/shared-state.md, "The seam"): a breaker writes a
  // transition to the ledger only when `publish` resolves true, and never writes one applied from another
  // process. Enable it once src/internal/breaker/sync.ts and circuitBreaker.ts do so.
  it.scoped("concurrent trips of one breaker in two processes write one CLOSED -> OPEN to the shared ledger", () =>
    Effect.gen(function*() {
      const board = new SharedState.MemoryBoard()
      const ledger = yield* Layer.build(Ledger.layerMemory)
      const processWith = Layer.build(SharedState.layerMemory(board, options)).pipe(
        Effect.map((ctx) => Context.merge(ledger, ctx))
      )
      const a = yield* makeIn(yield* processWith)
      const b = yield* makeIn(yield* processWith)
      yield* settle
      const fail = Effect.fail("503")
      yield* Effect.all([
        Effect.either(withBreaker(fail, a)),
        Effect.either(withBreaker(fail, b)),
        Effect.either(withBreaker(fail, a)),
        Effect.either(withBreaker(fail, b))
      ], { concurrency: "unbounded" })
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      expect([yield* a.state, yield* b.state]).toEqual(["OPEN", "OPEN"])
      const transitions = yield* Context.get(ledger, Ledger.Ledger).transitions()
      expect(transitions.map((t) => `${t.fromState}->${t.toState}`)).toEqual(["CLOSED->OPEN"])
    }))
})

describe("SharedState.layerSql on SQLite (processes on one host, polling)", () => {
  it.scopedLive(
    "a transition written by one process is read by another within syncInterval, written once",
    () =>
      Effect.gen(function*() {
        const dir = mkdtempSync(join(tmpdir(), "agentarmour-shared-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        const processOnFile = Layer.build(
          SharedState.layerSql({ syncInterval: "100 millis" }).pipe(
            Layer.provide(SqliteClient.layer({ filename: join(dir, "state.db") }))
          )
        ).pipe(Effect.map(sharedIn))
        const a = yield* processOnFile
        const b = yield* processOnFile
        const [wonA, wonB] = yield* Effect.all([
          a.publish(opened("research", 1, "CLOSED")),
          b.publish(opened("research", 2, "CLOSED"))
        ], {
          concurrency: 2
        })
        expect(wonA !== wonB).toBe(true)
        const winner = wonA ? a : b
        const other = wonA ? b : a
        yield* Effect.sleep("300 millis").pipe(
          Effect.zipRight(other.read("research")),
          Effect.repeat({ until: Option.isSome, times: 50 })
        )
        expect(Option.map(yield* other.read("research"), (s) => [s.state, s.version, s.origin])).toEqual(
          Option.some(["OPEN", 1, winner.origin])
        )
        expect((yield* other.status).listening).toBe(false)
      }),
    30_000
  )
})

describe("SharedState options", () => {
  it.effect("layerMemory dies with a ParseError naming a negative, NaN, infinite or unparsable interval", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[string, unknown, string]> = [
        ["readInterval", -5, "must be a non-negative duration, got -5"],
        ["syncInterval", NaN, "must be a non-negative duration, got NaN"],
        ["publishInterval", Infinity, "must be a finite duration, got Infinity"],
        ["heartbeatTimeout", "soon", `must be a duration such as "30 seconds" or a number of milliseconds, got "soon"`]
      ]
      for (const [option, value, problem] of cases) {
        const exit = yield* Effect.exit(
          Layer.build(SharedState.layerMemory(new SharedState.MemoryBoard(), { [option]: value })).pipe(Effect.scoped)
        )
        const defect = exit._tag === "Failure" ? Cause.dieOption(exit.cause) : Option.none()
        expect(Option.map(defect, (d) => [(d as Error).name, (d as Error).message])).toEqual(
          Option.some(["ParseError", `SharedState.layerMemory: ${option} ${problem}`])
        )
      }
    }))

  it.effect("layerSql fails with a ParseError naming the bad interval, before touching the database", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(SharedState.layerSql({ syncInterval: -1, heartbeatInterval: "-2 seconds" })).pipe(
          Effect.scoped,
          Effect.provide(SqliteClient.layer({ filename: ":memory:" }))
        )
      )
      expect(error._tag).toBe("ParseError")
      expect(error.message).toBe(
        `SharedState.layerSql: syncInterval must be a non-negative duration, got -1; ` +
          `heartbeatInterval must be a non-negative duration, got "-2 seconds"`
      )
    }))

  it.effect("the Postgres layer fails with a ParseError naming the bad interval, without connecting", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(SharedState.layer({ host: "127.0.0.1", port: 1, heartbeatTimeout: NaN })).pipe(Effect.scoped)
      )
      expect(error._tag).toBe("ParseError")
      expect(error.message).toBe("SharedState.layer: heartbeatTimeout must be a non-negative duration, got NaN")
    }))
})
