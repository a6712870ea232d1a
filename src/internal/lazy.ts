/**
 * A value made by an Effect on first use, once: concurrent first uses share
 * the one run (`Effect.cached`), and later uses read it in one step.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

export class Lazy<A, E, R> {
  /** the value, once made (set only inside the effect) */
  value: A | undefined = undefined
  #memo: Effect.Effect<A, E, R> | undefined = undefined
  readonly get: Effect.Effect<A, E, R>

  constructor(make: Effect.Effect<A, E, R>) {
    const made = Effect.tap(make, (a) =>
      Effect.sync(() => {
        this.value = a
      }))
    this.get = Effect.suspend(() => {
      if (this.value !== undefined) return Effect.succeed(this.value)
      if (this.#memo !== undefined) return this.#memo
      // the first caller's memo wins; a memo that loses a race is never run, so `make` runs once
      return Effect.flatMap(Effect.cached(made), (memo) => (this.#memo ??= memo))
    })
  }
}
