/**
 * Every ```ts snippet of README.md and docs/*.md compiles: each is extracted
 * into a virtual module and type-checked with the TypeScript compiler API
 * against the sources (`agentarmour` and `agentarmour/*` resolve to src/, as
 * in tsconfig.json). A snippet is a whole module: it imports what it uses and
 * `declare`s what the reader supplies (an LLM client, an agent).
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

import ts from "typescript"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..")

interface Snippet {
  readonly file: string
  readonly line: number
  readonly index: number
  readonly code: string
}

const snippetsOf = (file: string): ReadonlyArray<Snippet> => {
  const lines = readFileSync(join(root, file), "utf8").split("\n")
  const snippets: Array<Snippet> = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue
    const start = i + 1
    let end = start
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++
    snippets.push({ file, line: start + 1, index: snippets.length + 1, code: lines.slice(start, end).join("\n") })
    i = end
  }
  return snippets
}

const files = [
  "README.md",
  ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)
]
const snippets = files.flatMap(snippetsOf)

/** the module path of a snippet: beside the sources, so node_modules resolves as for src/ */
const virtualPath = (s: Snippet) => join(root, "snippets", `${s.file.replace(/\W/g, "_")}_${s.index}.mts`)

describe("documentation snippets", () => {
  it("README.md and docs/*.md have ts snippets", () => {
    expect(snippets.length).toBeGreaterThan(5)
    expect(snippets.filter((s) => s.file === "README.md").length).toBeGreaterThanOrEqual(2)
  })

  it("every ts snippet in README.md and docs/*.md type-checks against the sources", () => {
    const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"))
      }
    })!
    const virtual = new Map(snippets.map((s) => [virtualPath(s), s]))
    const options: ts.CompilerOptions = { ...config.options, noEmit: true, noUnusedLocals: false }
    const host = ts.createCompilerHost(options)
    const { fileExists, readFile } = host
    host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f)
    host.readFile = (f) => virtual.get(f)?.code ?? readFile.call(host, f)
    const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host })
    const failures: Array<string> = []
    for (const [path, s] of virtual) {
      const sourceFile = program.getSourceFile(path)!
      const diagnostics = [
        ...program.getSyntacticDiagnostics(sourceFile),
        ...program.getSemanticDiagnostics(sourceFile)
      ]
      for (const d of diagnostics) {
        const { line } = d.start === undefined ? { line: 0 } : sourceFile.getLineAndCharacterOfPosition(d.start)
        failures.push(
          `${s.file}:${s.line + line} (ts snippet #${s.index} of ${s.file}, its line ${line + 1}): ${
            ts.flattenDiagnosticMessageText(d.messageText, " ")
          }`
        )
      }
    }
    expect(failures, `snippets that do not compile:\n${failures.join("\n")}`).toEqual([])
  }, 120_000)
})
