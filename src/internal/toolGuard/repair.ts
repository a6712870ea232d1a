/**
 * Deterministic repair of the JSON a model wrote for a tool call: code
 * fences, trailing commas, single quotes, unquoted keys, a truncated object
 * or array, `""` for `{}`. No guessing beyond that: what still does not parse
 * is refused with the parse error.
 *
 * @internal
 */

/** what parsing the raw arguments gave */
export type Parsed =
  | { readonly _tag: "Parsed"; readonly value: unknown; readonly repaired: boolean }
  | { readonly _tag: "Unparsable"; readonly error: string }

/** parses `raw`, repairing it when `repair` is on and it does not parse as it is */
export const parseArgs = (raw: string, repair: boolean): Parsed => {
  const first = tryParse(raw)
  if (first.ok) return { _tag: "Parsed", value: first.value, repaired: false }
  if (!repair) return { _tag: "Unparsable", error: first.error }
  const second = tryParse(repairJson(raw))
  return second.ok
    ? { _tag: "Parsed", value: second.value, repaired: true }
    : { _tag: "Unparsable", error: first.error }
}

const tryParse = (text: string): { ok: true; value: unknown } | { ok: false; error: string } => {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) }
  }
}

const fence = /^```[A-Za-z0-9_-]*[ \t]*\r?\n?([\s\S]*?)(?:\r?\n?```[\s]*)?$/

/** the text without a surrounding code fence */
const stripFence = (text: string): string => {
  const trimmed = text.trim()
  if (!trimmed.startsWith("```")) return trimmed
  const match = fence.exec(trimmed)
  return match === null ? trimmed : match[1]!.trim()
}

const keywords = new Set(["true", "false", "null"])
const identStart = /[A-Za-z_$]/
const identPart = /[A-Za-z0-9_$]/

/** the repaired text (which may still not parse) */
export const repairJson = (raw: string): string => {
  const text = stripFence(raw)
  if (text === "" || text === "\"\"" || text === "''") return "{}"
  const out: Array<string> = []
  const stack: Array<"}" | "]"> = []
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === "\"" || c === "'") {
      i = copyString(text, i, out)
    } else if (identStart.test(c)) {
      let j = i + 1
      while (j < text.length && identPart.test(text[j]!)) j++
      const word = text.slice(i, j)
      out.push(keywords.has(word) ? word : JSON.stringify(word))
      i = j
    } else if (c === ",") {
      const next = nextSignificant(text, i + 1)
      if (next !== undefined && next !== "}" && next !== "]") out.push(c)
      i++
    } else if (c === "{" || c === "[") {
      stack.push(c === "{" ? "}" : "]")
      out.push(c)
      i++
    } else if (c === "}" || c === "]") {
      stack.pop()
      out.push(c)
      i++
    } else {
      out.push(c)
      i++
    }
  }
  closeTruncated(out, stack)
  return out.join("")
}

/** copies the string starting at `start` as a double-quoted JSON string; closes it when truncated */
const copyString = (text: string, start: number, out: Array<string>): number => {
  const quote = text[start]!
  let i = start + 1
  let body = ""
  while (i < text.length && text[i] !== quote) {
    const c = text[i]!
    if (c === "\\" && i + 1 < text.length) {
      const n = text[i + 1]!
      body += n === "'" ? "'" : c + n
      i += 2
    } else {
      body += c === "\"" ? "\\\"" : c === "\n" ? "\\n" : c
      i++
    }
  }
  out.push("\"" + body + "\"")
  return i + 1
}

const nextSignificant = (text: string, from: number): string | undefined => {
  for (let i = from; i < text.length; i++) {
    if (!/\s/.test(text[i]!)) return text[i]
  }
  return undefined
}

/** drops a dangling comma or key and closes what a truncated text left open */
const closeTruncated = (out: Array<string>, stack: Array<"}" | "]">): void => {
  if (stack.length === 0) return
  let tail = out.join("").trimEnd()
  if (tail.endsWith(",")) tail = tail.slice(0, -1)
  if (stack[stack.length - 1] === "}") {
    // a key left without a value: dropped
    tail = tail.replace(/([{,])\s*"(?:[^"\\]|\\.)*"\s*:?$/, "$1").replace(/,$/, "")
  }
  out.length = 0
  out.push(tail)
  for (let k = stack.length - 1; k >= 0; k--) out.push(stack[k]!)
}
