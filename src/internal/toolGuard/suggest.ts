/**
 * The nearest valid tool name to a hallucinated one ("serch" -> "search").
 *
 * @internal
 */

/** the closest name within a few edits (or containing / contained in `name`), or `null` */
export const nearest = (name: string, candidates: ReadonlyArray<string>): string | null => {
  const wanted = name.toLowerCase()
  let best: string | null = null
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase()
    const d = lower === wanted ? 0 : distance(wanted, lower)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  if (best === null) return null
  const limit = Math.max(2, Math.floor(Math.max(name.length, best.length) / 3))
  if (bestDistance <= limit) return best
  const contained = candidates.find((c) => {
    const lower = c.toLowerCase()
    return wanted.length >= 3 && (lower.includes(wanted) || wanted.includes(lower))
  })
  return contained ?? null
}

/** Levenshtein distance */
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost)
    }
    previous = current
  }
  return previous[b.length]!
}
