import { readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"

import { describe, expect, it } from "vitest"

const src = join(import.meta.dirname, "..", "src")

/** every module statically imported (values, not `import type`) from `entry`, transitively */
const valueImports = (entry: string) => {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const code = readFileSync(file, "utf8")
    for (const m of code.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+"([^"]+)"/gms)) {
      const spec = m[1]!
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")))
      else packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!)
    }
  }
  visit(join(src, entry))
  return { files: seen, packages }
}

describe("entry points", () => {
  it("importing agentarmour loads effect only (no sqlite, pg, langgraph or platform code)", () => {
    const { files, packages } = valueImports("index.ts")
    expect(files.size).toBeGreaterThan(5)
    expect([...packages]).toEqual(["effect"])
  })

  it("each subpath loads only its own heavy dependency", () => {
    // @effect/experimental: Reactivity, which the SQL clients need to be built
    expect([...valueImports("sqlite/index.ts").packages].sort()).toEqual([
      "@effect/experimental",
      "@effect/sql",
      "@effect/sql-sqlite-node",
      "effect",
      "node:fs"
    ])
    expect(valueImports("langgraph/index.ts").packages).not.toContain("@effect/sql-sqlite-node")
    expect(valueImports("dashboard/index.ts").packages).not.toContain("@langchain/langgraph")
  })

  it("agentarmour/testing loads @langchain/core (an optional peer), never LangGraph, SQL or platform code", () => {
    const { packages } = valueImports("testing/index.ts")
    expect(packages).toContain("@langchain/core")
    for (const heavy of ["@langchain/langgraph", "@effect/sql", "@effect/sql-sqlite-node", "@effect/platform-node"]) {
      expect(packages).not.toContain(heavy)
    }
    expect([...packages].filter((p) => !p.startsWith("node:")).sort()).toEqual(["@langchain/core", "effect"])
  })
})
