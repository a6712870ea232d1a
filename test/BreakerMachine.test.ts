import { describe, expect, it } from "@effect/vitest"

import * as consecutive from "../src/internal/breaker/consecutive.js"
import * as countWindow from "../src/internal/breaker/countWindow.js"
import * as Machine from "../src/internal/breaker/machine.js"
import * as rates from "../src/internal/breaker/rates.js"
import * as timeWindow from "../src/internal/breaker/timeWindow.js"

const machine = (over: Partial<Machine.Machine> = {}): Machine.Machine => ({
  rules: [timeWindow.make(2, 10_000)],
  recoveryMillis: 1000,
  backoffMillis: () => 0,
  halfOpenMaxCalls: 1,
  halfOpenSuccesses: 1,
  halfOpenTimeoutMillis: 5000,
  ...over
})

const fail = (permit: Machine.Permit = Machine.CLOSED_PERMIT): Machine.Event => ({
  _tag: "Failure",
  permit,
  slow: false,
  detail: "boom"
})
const succeed = (permit: Machine.Permit = Machine.CLOSED_PERMIT): Machine.Event => ({
  _tag: "Success",
  permit,
  slow: false
})

/** runs events at the given times, returning the state and every transition as "FROM->TO" */
const run = (
  m: Machine.Machine,
  events: ReadonlyArray<readonly [number, Machine.Event]>,
  from = Machine.initial(m)
) => {
  let s = from
  const seen: Array<string> = []
  for (const [now, e] of events) {
    const [next, ts] = Machine.step(m, s, e, now)
    s = next
    for (const t of ts) seen.push(`${t.from}->${t.to}`)
  }
  return { state: s, seen }
}

const openAt = (m: Machine.Machine, now: number) => run(m, [[now, fail()], [now, fail()]]).state

describe("breaker state machine (pure)", () => {
  it("trips when the threshold is reached inside the window, with one transition", () => {
    const { seen, state } = run(machine(), [[0, fail()], [1, fail()]])
    expect(seen).toEqual(["CLOSED->OPEN"])
    expect(state).toMatchObject({ status: "OPEN", openedAt: 1, retryAt: 1001 })
  })

  it("failures older than the window do not count", () => {
    expect(run(machine(), [[0, fail()], [10_000, fail()]]).state.status).toBe("CLOSED")
  })

  it("admit rejects while OPEN with the time left, then moves to HALF_OPEN with one probe", () => {
    const m = machine()
    const open = openAt(m, 0)
    const [rejected] = Machine.admit(m, open, 400)
    expect(rejected).toEqual({ _tag: "Rejected", retryAfterMillis: 600 })
    const [probe, s, ts] = Machine.admit(m, open, 1000)
    expect(probe).toEqual({ _tag: "Probe", episode: 1 })
    expect(ts.map((t) => t.to)).toEqual(["HALF_OPEN"])
    expect(Machine.admit(m, s, 1000)[0]).toEqual({ _tag: "Rejected", retryAfterMillis: 0 })
  })

  it("a probe from an earlier episode neither closes nor frees a permit of the current one", () => {
    const m = machine({ halfOpenMaxCalls: 2 })
    const [p1, s1] = Machine.admit(m, openAt(m, 0), 1000)
    const [p2, s2] = Machine.admit(m, s1, 1000)
    const reopened = Machine.step(m, s2, fail(p2 as Machine.Permit), 1000)[0]
    const [, s3] = Machine.admit(m, reopened, 2000) // episode 2, one probe running
    expect(s3.episode).toBe(2)
    const afterStale = Machine.step(m, s3, succeed(p1 as Machine.Permit), 2000)[0]
    expect(afterStale).toBe(s3)
    const afterRelease = Machine.step(m, s3, { _tag: "Release", permit: p1 as Machine.Permit }, 2000)[0]
    expect(afterRelease).toMatchObject({ status: "HALF_OPEN", probes: 1 })
  })

  it("halfOpenSuccesses probes must succeed to close; any failure reopens", () => {
    const m = machine({ halfOpenSuccesses: 2 })
    const [p, s] = Machine.admit(m, openAt(m, 0), 1000)
    const one = Machine.step(m, s, succeed(p as Machine.Permit), 1000)[0]
    expect(one.status).toBe("HALF_OPEN")
    const [p2, s2] = Machine.admit(m, one, 1000)
    expect(Machine.step(m, s2, succeed(p2 as Machine.Permit), 1000)[0].status).toBe("CLOSED")
    expect(Machine.step(m, s2, fail(p2 as Machine.Permit), 1000)[0].status).toBe("OPEN")
  })

  it("halfOpenTimeout reopens an episode whose probe never ends, as a failed probe", () => {
    const m = machine({ backoffMillis: (n) => n * 100 })
    const [, s] = Machine.admit(m, openAt(m, 0), 1000)
    expect(Machine.step(m, s, { _tag: "Tick" }, 5999)[0].status).toBe("HALF_OPEN")
    const [reopened, ts] = Machine.step(m, s, { _tag: "Tick" }, 6000)
    expect(reopened).toMatchObject({ status: "OPEN", failedProbes: 1, retryAt: 6000 + 1000 + 100 })
    expect(ts[0]!.reason).toContain("halfOpenTimeout")
  })

  it("consecutive: a success resets the run", () => {
    const m = machine({ rules: [consecutive.make(2)] })
    expect(run(m, [[0, fail()], [1, succeed()], [2, fail()]]).state.status).toBe("CLOSED")
    expect(run(m, [[0, fail()], [1, fail()]]).state.status).toBe("OPEN")
  })

  it("count window: the rate over the last N calls, once minimumCalls are in it", () => {
    const thresholds = { minimumCalls: 4, failureRate: 0.5, slowRate: undefined }
    const m = machine({ rules: [timeWindow.make(100, 10_000), countWindow.make(4, thresholds)] })
    expect(run(m, [[0, succeed()], [0, succeed()], [0, fail()]]).state.status).toBe("CLOSED")
    expect(run(m, [[0, succeed()], [0, succeed()], [0, fail()], [0, fail()]]).state.status).toBe("OPEN")
    // the oldest calls leave the window: 2 failures then 4 successes is 0% over the last 4
    const s = run(m, [[0, fail()], [0, succeed()], [0, succeed()], [0, succeed()], [0, succeed()]]).state
    expect(s.status).toBe("CLOSED")
  })

  it("slow failures count toward the slow-call rate", () => {
    const thresholds = { minimumCalls: 2, failureRate: undefined, slowRate: 1 }
    const m = machine({ rules: [timeWindow.make(100, 10_000), rates.make(10_000, thresholds)] })
    const slowFail: Machine.Event = { _tag: "Failure", permit: Machine.CLOSED_PERMIT, slow: true, detail: "x" }
    const slowOk: Machine.Event = { _tag: "Success", permit: Machine.CLOSED_PERMIT, slow: true }
    const { seen } = run(m, [[0, slowFail], [1, slowOk]])
    expect(seen).toEqual(["CLOSED->OPEN"])
  })

  it("isolation nests, wins over forceOpen/disable/reset, and ends in what they asked for", () => {
    const m = machine()
    const { state, seen } = run(m, [[0, { _tag: "Isolate" }], [0, { _tag: "Isolate" }], [1, { _tag: "ForceOpen" }], [
      2,
      { _tag: "Unisolate" }
    ]])
    expect(state.status).toBe("ISOLATED")
    expect(seen).toEqual(["CLOSED->ISOLATED"])
    expect(Machine.admit(m, state, 2)[0]).toEqual({ _tag: "Isolated" })
    const after = Machine.step(m, state, { _tag: "Unisolate" }, 3)
    expect(after[0]).toMatchObject({ status: "OPEN", retryAt: Infinity })
    const plain = run(m, [[0, { _tag: "Isolate" }], [1, { _tag: "Unisolate" }]])
    expect(plain.seen).toEqual(["CLOSED->ISOLATED", "ISOLATED->CLOSED"])
  })

  it("disable passes calls through until enable, which closes with a clear window", () => {
    const m = machine()
    const { state, seen } = run(m, [[0, fail()], [0, { _tag: "Disable" }]])
    expect(Machine.admit(m, state, 0)[0]).toEqual({ _tag: "PassThrough" })
    const enabled = Machine.step(m, state, { _tag: "Enable" }, 1)[0]
    expect(seen).toEqual(["CLOSED->DISABLED"])
    expect(Machine.failureCount(m, enabled, 1)).toBe(0)
    expect(run(m, [[2, fail()]], enabled).state.status).toBe("CLOSED")
  })

  it("a remote state applies only when newer than the local one", () => {
    const m = machine()
    const open = openAt(m, 100)
    const stale = Machine.step(m, open, { _tag: "Remote", to: "CLOSED", openedAt: 0, retryAt: 0, updatedAt: 50 }, 200)
    expect(stale[0].status).toBe("OPEN")
    const newer = Machine.step(m, open, { _tag: "Remote", to: "CLOSED", openedAt: 0, retryAt: 0, updatedAt: 150 }, 200)
    expect(newer[1]).toMatchObject([{ from: "OPEN", to: "CLOSED", synced: true }])
  })
})
