/**
 * SharedState converges after a Postgres outage (issue 21, point 6): two
 * processes (two layers, each with its own pool and listening connection)
 * trip and reset the same breakers while Postgres is restarted, or frozen;
 * when the work stops, every breaker reads the table's state in both, and a
 * trip made during the outage reaches the table.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { CircuitBreaker, Ledger } from "agentarmour"
import { SharedState } from "agentarmour/pg"
import { Context, Duration, Effect, Fiber, Layer, Schedule } from "effect"

import { usePostgres } from "./support/usePostgres.js"

const pg = usePostgres()

const processOn = (tablePrefix: string, applicationName: string) =>
  Layer.build(
    Layer.mergeAll(
      Ledger.layerMemory,
      SharedState.layer({
        ...pg.server.options(),
        applicationName,
        tablePrefix,
        syncInterval: "300 millis",
        heartbeatInterval: "500 millis",
        heartbeatTimeout: "1 second"
      })
    )
  )

type Process = Context.Context<Ledger.Ledger | SharedState.SharedState>

const breakersIn = (ctx: Process, names: ReadonlyArray<string>) =>
  Effect.forEach(
    names,
    (name) => CircuitBreaker.make({ name, failureThreshold: 1, recoveryTimeout: "1 hour" }).pipe(Effect.provide(ctx))
  )

const eventually = <E, R>(condition: Effect.Effect<boolean, E, R>, timeout: Duration.DurationInput) =>
  condition.pipe(
    Effect.flatMap((ok) => ok ? Effect.void : Effect.fail("not yet" as const)),
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`condition not met within ${Duration.decode(timeout).toString()}`)
    })
  )

const listening = (ctx: Process) => Effect.map(Context.get(ctx, SharedState.SharedState).status, (s) => s.listening)

const outages = {
  /** stopped and started again: connections are lost */
  restart: {
    begin: () => pg.server.pause(),
    end: () => pg.server.resume()
  },
  /** SIGSTOP, then SIGCONT: connections stay open, nothing answers meanwhile */
  freeze: {
    begin: async () => pg.server.freeze(),
    end: async () => pg.server.thaw()
  }
} as const

describe("SharedState after a Postgres outage", () => {
  it.scopedLive.each(["restart", "freeze"] as const)(
    "two processes tripping and resetting 100 breakers through a %s end in the table's state; a trip made during the outage reaches the table",
    (outage) =>
      Effect.gen(function*() {
        const prefix = `conv_${outage}_`
        // a frozen server is never left frozen, whatever happens
        yield* Effect.addFinalizer(() => Effect.sync(() => pg.server.thaw()))
        const a = yield* processOn(prefix, "a")
        const b = yield* processOn(prefix, "b")
        yield* eventually(Effect.map(Effect.all([listening(a), listening(b)]), ([x, y]) => x && y), "20 seconds")
        const names = Array.from({ length: 100 }, (_, i) => `node-${i}`)
        const inA = yield* breakersIn(a, [...names, "outage-trip"])
        const inB = yield* breakersIn(b, [...names, "outage-trip"])
        const processes = [inA, inB] as const

        /** one random trip or reset, about 40 a second across both processes */
        const step = Effect.gen(function*() {
          const breakers = processes[Math.floor(Math.random() * 2)]!
          const breaker = breakers[Math.floor(Math.random() * names.length)]!
          const state = yield* breaker.state
          yield* state === "CLOSED" ? breaker.forceOpen : breaker.reset
          yield* Effect.sleep("25 millis")
        })
        const work = yield* Effect.fork(Effect.forever(step))
        yield* Effect.sleep("2 seconds")
        yield* Effect.promise(outages[outage].begin)
        yield* Effect.sleep("1 second")
        // a trip made while Postgres is down, in one process only
        yield* inA[names.length]!.forceOpen
        yield* Effect.sleep("2 seconds")
        yield* Effect.promise(outages[outage].end)
        yield* Effect.sleep("2 seconds")
        yield* Fiber.interrupt(work)
        yield* Effect.sleep("100 millis")

        const sql = yield* Layer.build(PgClient.layer({ ...pg.server.options(), applicationName: "admin" })).pipe(
          Effect.map((ctx) => Context.get(ctx, SqlClient.SqlClient))
        )
        const divergent = Effect.gen(function*() {
          const rows = yield* sql<{ breaker_name: string; state: string }>`
            SELECT breaker_name, state FROM ${sql(`${prefix}breaker_state`)}`
          const table = new Map(rows.map((r) => [r.breaker_name, r.state]))
          const out: Array<string> = []
          for (let i = 0; i < names.length + 1; i++) {
            const name = i < names.length ? names[i]! : "outage-trip"
            const [sa, sb] = [yield* inA[i]!.state, yield* inB[i]!.state]
            const row = table.get(name) ?? "CLOSED"
            if (sa !== row || sb !== row) out.push(`${name}: A ${sa}, B ${sb}, table ${row}`)
          }
          return out
        })
        const settled = yield* Effect.either(
          eventually(Effect.map(divergent, (d) => d.length === 0), "30 seconds")
        )
        expect(settled._tag === "Right" ? [] : yield* divergent).toEqual([])
        const trip = yield* sql<{ state: string }>`
          SELECT state FROM ${sql(`${prefix}breaker_state`)} WHERE breaker_name = 'outage-trip'`
        expect(trip.map((r) => r.state)).toEqual(["OPEN"])
      }),
    120_000
  )
})
