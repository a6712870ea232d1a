/**
 * The one way an unknown thrown value becomes text: total (never throws,
 * whatever getters, Proxies or `toString`s the value has) and bounded.
 *
 * @internal
 */
import * as Cause from "effect/Cause"

/** the longest one-line description */
export const MAX_DESCRIPTION = 1_000
/** the longest traceback (`Cause.pretty`) */
export const MAX_TRACEBACK = 16_000

const bound = (s: string, max: number): string => s.length > max ? `${s.slice(0, max - 3)}...` : s

/** `f()`, or `undefined` when it throws */
const attempt = <A>(f: () => A): A | undefined => {
  try {
    return f()
  } catch {
    return undefined
  }
}

const describeUnbounded = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return u
    case "undefined":
      return "undefined"
    case "symbol":
      return attempt(() => u.toString()) ?? "a symbol"
    case "number":
    case "boolean":
    case "bigint":
      return String(u)
    case "function":
    case "object": {
      if (u === null) return "null"
      const isError = attempt(() => u instanceof Error) ?? false
      const read = (key: string): unknown => attempt(() => (u as Record<string, unknown>)[key])
      const name = read("name")
      const message = read("message")
      const tag = read("_tag")
      const label = typeof tag === "string" ? tag : isError && typeof name === "string" ? name : undefined
      if (typeof message === "string") return label === undefined ? message : `${label}: ${message}`
      if (label !== undefined) return label
      const text = attempt(() => String(u))
      if (typeof text === "string" && text !== "[object Object]") return text
      return attempt(() => JSON.stringify(u)) ?? text ?? "an unreadable value"
    }
  }
}

/** the one line that names a thrown value: `Name: message`, a tag, or the value; never throws */
export const describe = (u: unknown, max: number = MAX_DESCRIPTION): string => {
  const text = attempt(() => describeUnbounded(u))
  return bound(typeof text === "string" ? text : "an unreadable value", max)
}

/** an Error's own message, whole (what a user's code wrote), else the value described; never throws */
export const messageOf = (u: unknown): string =>
  attempt(() => (u instanceof Error && typeof u.message === "string" ? u.message : undefined)) ?? describe(u)

/** `describe` of a cause's main failure (`Cause.squash`) */
export const describeCause = (cause: Cause.Cause<unknown>, max: number = MAX_DESCRIPTION): string =>
  describe(attempt(() => Cause.squash(cause)), max)

/** `Cause.pretty`, bounded, or the description of the failure when pretty-printing throws */
export const prettyCause = (cause: Cause.Cause<unknown>, max: number = MAX_TRACEBACK): string => {
  const pretty = attempt(() => Cause.pretty(cause))
  return bound(typeof pretty === "string" ? pretty : describeCause(cause, max), max)
}
