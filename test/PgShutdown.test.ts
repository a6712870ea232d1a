/**
 * Shutdown is bounded whatever Postgres does (issue 21, point 3): with the
 * server frozen (SIGSTOP: connections stay open, nothing answers), disposing
 * a runtime that holds a Postgres layer returns, whatever it was doing.
 */
import { Budget, Ledger } from "agentarmour"
import { PgBudgetStore, PgLedger, SharedState } from "agentarmour/pg"
import { Duration, Effect, Layer, ManagedRuntime } from "effect"
import { afterEach, describe, expect, it } from "vitest"

import { usePostgres } from "./support/usePostgres.js"

const pg = usePostgres()

let tables = 0
const freshPrefix = () => `sd${++tables}_`

afterEach(() => {
  pg.server.thaw()
})

/** what a caller sees of `dispose`: it returned, or the generous deadline (far above flushTimeout + 1 s) passed */
const disposeWithin = async (runtime: { readonly dispose: () => Promise<void> }, deadline: number) => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const outcome = await Promise.race([
    runtime.dispose().then(() => "disposed" as const, () => "disposed" as const),
    new Promise<"still waiting">((resolve) => {
      timer = setTimeout(() => resolve("still waiting"), deadline)
    })
  ])
  clearTimeout(timer)
  return outcome
}

const failure = (i: number) =>
  new Ledger.FailureRecord({
    breakerName: "research",
    category: "exception",
    errorType: "AgentError",
    errorMessage: `failure ${i}`,
    traceback: "AgentError",
    createdAt: new Date()
  })

const opened = (breaker: string) => ({
  breaker,
  state: "OPEN" as const,
  from: "CLOSED" as const,
  openedAt: Date.now(),
  retryAt: Date.now() + 60_000,
  updatedAt: Date.now(),
  origin: "ignored"
})

const ledgerLayer = (tablePrefix: string) =>
  PgLedger.layer({ ...pg.server.options(), tablePrefix, flushTimeout: "3 seconds" })

const sharedLayer = (tablePrefix: string) =>
  SharedState.layer({
    ...pg.server.options(),
    tablePrefix,
    syncInterval: "300 millis",
    heartbeatInterval: "500 millis",
    heartbeatTimeout: "1 second"
  })

const budgetLayer = (tablePrefix: string) => PgBudgetStore.layer({ ...pg.server.options(), tablePrefix })

/** waits (generously) until the shared state listens, so that a listening connection is open when frozen */
const waitListening = Effect.gen(function*() {
  const shared = yield* SharedState.SharedState
  for (let i = 0; i < 400; i++) {
    if ((yield* shared.status).listening) return
    yield* Effect.sleep("50 millis")
  }
  throw new Error("SharedState never listened")
})

describe("disposing a runtime while Postgres is frozen", () => {
  it("with PgLedger (writes queued and in flight): dispose returns", async () => {
    const runtime = ManagedRuntime.make(ledgerLayer(freshPrefix()))
    await runtime.runPromise(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.recordFailure(failure(0))
      yield* ledger.flush
    }))
    pg.server.freeze()
    await runtime.runPromise(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      for (let i = 1; i <= 100; i++) yield* ledger.recordFailure(failure(i))
      yield* Effect.sleep("200 millis")
    }))
    expect(await disposeWithin(runtime, 20_000)).toBe("disposed")
  }, 60_000)

  it("with SharedState (listening, a publication in flight): dispose returns", async () => {
    const runtime = ManagedRuntime.make(sharedLayer(freshPrefix()))
    await runtime.runPromise(waitListening)
    pg.server.freeze()
    await runtime.runPromise(Effect.gen(function*() {
      const shared = yield* SharedState.SharedState
      yield* Effect.forkDaemon(shared.publish(opened("research")))
      yield* Effect.sleep("200 millis")
    }))
    expect(await disposeWithin(runtime, 20_000)).toBe("disposed")
  }, 60_000)

  it("with PgBudgetStore (a statement in flight): dispose returns", async () => {
    const runtime = ManagedRuntime.make(budgetLayer(freshPrefix()))
    await runtime.runPromise(Effect.gen(function*() {
      const store = yield* Budget.BudgetStore
      yield* store.takeCall("research:calls", 10, Duration.minutes(1))
    }))
    pg.server.freeze()
    await runtime.runPromise(Effect.gen(function*() {
      const store = yield* Budget.BudgetStore
      yield* Effect.forkDaemon(store.takeCall("research:calls", 10, Duration.minutes(1)))
      yield* Effect.sleep("200 millis")
    }))
    expect(await disposeWithin(runtime, 20_000)).toBe("disposed")
  }, 60_000)

  it("with all three layers built while Postgres is frozen (opening in flight): dispose returns", async () => {
    const prefix = freshPrefix()
    pg.server.freeze()
    const runtime = ManagedRuntime.make(Layer.mergeAll(ledgerLayer(prefix), sharedLayer(prefix), budgetLayer(prefix)))
    // no layer fails because of its database: they come up degraded, still trying to connect
    const built = await Promise.race([
      runtime.runtime().then(() => "built" as const, (e) => `failed: ${String(e)}`),
      new Promise<"still building">((resolve) => setTimeout(() => resolve("still building"), 20_000).unref())
    ])
    expect(built).toBe("built")
    await runtime.runPromise(Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      for (let i = 0; i < 10; i++) yield* ledger.recordFailure(failure(i))
      const shared = yield* SharedState.SharedState
      yield* Effect.forkDaemon(shared.publish(opened("research")))
      const store = yield* Budget.BudgetStore
      yield* Effect.forkDaemon(store.takeCall("research:calls", 10, Duration.minutes(1)))
    }))
    expect(await disposeWithin(runtime, 20_000)).toBe("disposed")
  }, 60_000)
})
