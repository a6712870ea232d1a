/**
 * Canonical arguments: the same call written two ways (keys in another
 * order, other whitespace) gives the same string.
 *
 * @internal
 */

/** JSON with object keys sorted at every depth */
export const canonical = (value: unknown): string => JSON.stringify(sortKeys(value)) ?? "null"

const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key])
    return out
  }
  return value
}
