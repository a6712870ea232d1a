/** A ledger that keeps the usage records it is given (and records nothing else), for the budget tests. */
import { Ledger } from "agentarmour"
import { Effect, Layer } from "effect"

export const recordingLedger = () => {
  const usage: Array<Ledger.UsageRecord> = []
  const ledger = Ledger.make({
    recordFailure: () => Effect.void,
    recordTransition: () => Effect.void,
    failures: () => Effect.succeed([]),
    transitions: () => Effect.succeed([]),
    summary: Effect.succeed([]),
    flush: Effect.void,
    recordUsage: (record) => Effect.sync(() => void usage.push(record))
  })
  return { usage, layer: Layer.succeed(Ledger.Ledger, ledger) }
}
