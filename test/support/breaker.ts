/** Fixtures shared by the breaker tests: a failing and a succeeding node, run with an in-memory ledger. */
import { Ledger } from "agentarmour"
import { Effect } from "effect"

export class Boom {
  readonly _tag = "Boom"
  readonly message = "agent exploded"
}
export const fail = Effect.fail(new Boom())
export const ok = Effect.succeed("ok")
export const attempt = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.either(self)
export const run = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, Ledger.layerMemory)
