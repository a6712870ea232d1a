/**
 * Plain-data helpers for cassettes: canonical JSON (sorted keys), secrets
 * removed, redaction by path, and a readable difference between two values.
 *
 * @internal
 */

/** keys whose values are never written: API keys, authorization headers, cookies, passwords */
const SECRET_KEY =
  /^(.*api[-_]?key|authorization|proxy-authorization|cookie|set-cookie|password|.*secret|access[-_]?token|refresh[-_]?token|bearer|credentials)$/i
/** values that look like a key or a bearer token, wherever they are */
const SECRET_VALUE = /^(Bearer\s+\S+|(sk|pk|rk|gsk|xai|sk-ant|sk-proj)[-_][A-Za-z0-9_-]{12,})$/

/** @internal data only (no functions, no class instances beyond arrays and plain objects), secrets removed */
export const toData = (value: unknown, seen: Set<unknown> = new Set()): unknown => {
  if (value === null || typeof value === "boolean" || typeof value === "number") return value
  if (typeof value === "string") return SECRET_VALUE.test(value.trim()) ? "[redacted]" : value
  if (typeof value !== "object" || seen.has(value)) return undefined
  seen.add(value)
  try {
    if (Array.isArray(value)) return value.map((v) => toData(v, seen) ?? null)
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_KEY.test(k)) continue
      const data = toData(v, seen)
      if (data !== undefined) out[k] = data
    }
    return out
  } finally {
    seen.delete(value)
  }
}

/** @internal JSON with object keys sorted, so equal data has one text */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v)

/** @internal removes `path` (dot-separated, `*` for any key or index) from `value`, in place */
export const redact = (value: unknown, path: ReadonlyArray<string>): void => {
  if (typeof value !== "object" || value === null || path.length === 0) return
  const [head, ...rest] = path as [string, ...Array<string>]
  const record = value as Record<string, unknown>
  const keys = head === "*" ? Object.keys(record) : Object.hasOwn(record, head) ? [head] : []
  for (const key of keys) {
    if (rest.length === 0) {
      if (Array.isArray(value)) record[key] = "[redacted]"
      else delete record[key]
    } else redact(record[key], rest)
  }
}

const show = (value: unknown): string => {
  const text = value === undefined ? "(absent)" : JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** @internal where `recorded` and `now` differ: `messages[2].content: recorded "a", now "b"` */
export const differences = (recorded: unknown, now: unknown, path = ""): Array<string> => {
  if (canonical(recorded) === canonical(now)) return []
  if (Array.isArray(recorded) && Array.isArray(now)) {
    const out: Array<string> = []
    if (recorded.length !== now.length) {
      out.push(`${path || "(root)"}: recorded ${recorded.length} items, now ${now.length}`)
    }
    for (let i = 0; i < Math.min(recorded.length, now.length); i++) {
      for (const d of differences(recorded[i], now[i], `${path}[${i}]`)) out.push(d)
    }
    return out
  }
  const isRecord = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v)
  if (isRecord(recorded) && isRecord(now)) {
    const out: Array<string> = []
    for (const key of new Set([...Object.keys(recorded), ...Object.keys(now)])) {
      for (const d of differences(recorded[key], now[key], path ? `${path}.${key}` : key)) out.push(d)
    }
    return out
  }
  return [`${path || "(root)"}: recorded ${show(recorded)}, now ${show(now)}`]
}
