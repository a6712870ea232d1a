/** A ledger that keeps the usage records it is given (and records nothing else), for the budget tests. */
import { Ledger } from "agentarmour"
import { Context, Effect, Exit, Layer, Scope } from "effect"

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

/**
 * Builds a ledger layer in a scope we close ourselves (as an application
 * shutting down would), uses its ledger, then closes the scope.
 */
export const withLedger = <A, E, LE>(
  layer: Layer.Layer<Ledger.Ledger, LE>,
  use: (ledger: Ledger.Ledger) => Effect.Effect<A, E>
): Effect.Effect<A, E | LE> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ctx = yield* Layer.buildWithScope(layer, scope)
    const result = yield* use(Context.get(ctx, Ledger.Ledger))
    yield* Scope.close(scope, Exit.void)
    return result
  })
