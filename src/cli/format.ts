/**
 * How the CLI prints ledger records: aligned tables with control characters
 * escaped, one-line excerpts, UTC times and JSON.
 *
 * @since 0.3.0
 */
import * as Doc from "@effect/printer/Doc"
import * as Console from "effect/Console"

// C0 and C1 controls (ESC, newline, carriage return, ...) and the Unicode bidirectional overrides
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * Escapes control characters so that text from the ledger (breaker names,
 * error messages) cannot move the cursor, clear the screen or split a table
 * row: a newline becomes `\n`, ESC `\x1b`, a bidi override `\u202e`.
 *
 * @since 0.2.0
 * @category formatting
 */
export const escapeControl = (s: string): string =>
  s.replace(CONTROL, (c) => {
    switch (c) {
      case "\n":
        return "\\n"
      case "\r":
        return "\\r"
      case "\t":
        return "\\t"
      default: {
        const code = c.charCodeAt(0)
        return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
      }
    }
  })

/**
 * An aligned table, laid out by @effect/printer, with control characters escaped.
 *
 * @since 0.1.0
 * @category formatting
 */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  header = header.map(escapeControl)
  rows = rows.map((r) => r.map(escapeControl))
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    Doc.hsep(cells.map((c, i) => (i === cells.length - 1 ? Doc.text(c) : Doc.fill(Doc.text(c), widths[i]!))))
  const rule = widths.map((w) => "-".repeat(w))
  return Doc.render(Doc.vsep([line(header), line(rule), ...rows.map(line)]), {
    style: "pretty",
    options: { lineWidth: 10_000 }
  })
}

/** `s` on one line, cut to `max` characters with an ellipsis */
export const oneLine = (s: string, max: number): string => {
  const flat = s.replace(/\s+/g, " ").trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/** a time as ISO-8601 UTC to the second, `-` for none */
export const iso = (d: Date | null): string => (d === null ? "-" : d.toISOString().replace(".000Z", "Z"))

/**
 * Prints `rows` as JSON with `--json`, else as a table, or `empty` when
 * there are none.
 */
export const printRows = <A>(rows: ReadonlyArray<A>, options: {
  readonly json: boolean
  readonly empty: string
  readonly header: ReadonlyArray<string>
  readonly row: (a: A) => ReadonlyArray<string>
}) =>
  options.json
    ? Console.log(JSON.stringify(rows, null, 2))
    : rows.length === 0
    ? Console.log(options.empty)
    : Console.log(table(options.header, rows.map(options.row)))
