/**
 * One process of the shared-state benches (`bench/shared.ts` forks several).
 * It plays `breakers` breakers at the SharedState seam as a breaker does
 * (`src/internal/breaker/sync.ts`): each has a local state, flipped by random
 * trips/recoveries (published with the state it left and the row version it
 * was decided on), and takes the shared row (by version) whenever none of its
 * own transitions is waiting to be published. Messages from the parent: "go", "stop",
 * "report" (answered with latencies, statements and every breaker's state).
 */
import { Effect, Fiber, ManagedRuntime, Option, Redacted, Stream } from "effect"

import { SharedState } from "../src/pg/index.js"

interface Config {
  readonly port: number
  readonly prefix: string
  readonly breakers: number
  /** transitions per second this process makes (0: only listens) */
  readonly rate: number
  readonly name: string
}

const config = JSON.parse(process.argv[2]!) as Config
const send = (message: unknown) => process.send!(message)

const runtime = ManagedRuntime.make(SharedState.layer({
  host: "127.0.0.1",
  port: config.port,
  username: "postgres",
  password: Redacted.make("password"),
  database: "postgres",
  applicationName: config.name,
  tablePrefix: config.prefix
}))

const main = Effect.gen(function*() {
  const shared = yield* SharedState.SharedState
  const names = Array.from({ length: config.breakers }, (_, i) => `node-${i}`)
  type Local = { state: "CLOSED" | "OPEN"; version: number; outstanding: number }
  const local = new Map<string, Local>(names.map((n) => [n, { state: "CLOSED", version: 0, outstanding: 0 }]))
  /** takes the shared row when it is newer than what the breaker took into account */
  const adopt = (name: string) => {
    const l = local.get(name)
    const row = Option.getOrUndefined(Effect.runSync(shared.read(name)))
    if (l === undefined || row === undefined || l.outstanding > 0 || (row.version ?? 0) <= l.version) return
    l.state = row.state === "OPEN" ? "OPEN" : "CLOSED"
    l.version = row.version ?? 0
  }
  const latencies: Array<number> = []
  /** [receivedAt, latency]: to tell the restart window apart */
  const timeline: Array<[number, number]> = []

  // others' states overwrite the local one, as a breaker consuming `subscribe` does
  yield* Stream.runForEach(shared.changes, (row) =>
    Effect.sync(() => {
      const now = Date.now()
      adopt(row.breaker)
      latencies.push(now - row.updatedAt)
      timeline.push([now, now - row.updatedAt])
    })).pipe(Effect.forkDaemon)

  while (!(yield* shared.status).listening) yield* Effect.sleep("50 millis")
  send({ type: "ready" })
  yield* Effect.async<void>((resume) => {
    process.once("message", () => resume(Effect.void))
  })

  const atGo = (yield* shared.status).statements
  let running = true
  process.on("message", (m) => {
    if (m === "stop") running = false
  })
  const trips = config.rate <= 0 ? Effect.void : Effect.gen(function*() {
    const period = 1000 / config.rate
    let next = Date.now()
    while (running) {
      next += period
      const name = names[Math.floor(Math.random() * names.length)]!
      const l = local.get(name)!
      const from = l.state
      const to = from === "CLOSED" ? "OPEN" : "CLOSED"
      l.state = to
      l.outstanding++
      const now = Date.now()
      yield* Effect.fork(
        Effect.ensuring(
          shared.publish({
            breaker: name,
            state: to,
            from,
            openedAt: now,
            retryAt: to === "OPEN" ? now + 30_000 : null,
            updatedAt: now,
            origin: "",
            version: l.version
          }),
          // settled (applied or refused): the breaker takes the row
          Effect.sync(() => {
            l.outstanding--
            adopt(name)
          })
        )
      )
      const wait = next - Date.now()
      if (wait > 0) yield* Effect.sleep(`${Math.round(wait)} millis`)
    }
  })
  const tripping = yield* Effect.fork(trips)
  yield* Effect.async<void>((resume) => {
    const onMessage = (m: unknown) => {
      if (m === "stop") {
        process.off("message", onMessage)
        resume(Effect.void)
      }
    }
    process.on("message", onMessage)
  })
  yield* Fiber.join(tripping)
  const atStop = (yield* shared.status).statements
  yield* Effect.async<void>((resume) => {
    process.once("message", () => resume(Effect.void))
  })
  const status = yield* shared.status
  const states: Record<string, [string, number, string, number]> = {}
  for (const n of names) {
    const row = Option.getOrUndefined(yield* shared.read(n))
    const l = local.get(n)!
    states[n] = [l.state, l.version, row?.state ?? "none", row?.version ?? 0]
  }
  send({ type: "report", latencies, timeline, status, states, statementsWhileRunning: atStop - atGo })
})

runtime.runPromise(main).then(
  () => runtime.dispose().then(() => process.exit(0)),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
