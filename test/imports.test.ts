/**
 * The modules of src/ import one way (issue 24): no module reaches itself
 * through value imports (`import ... from`, `export ... from`) or dynamic
 * `import()`; `import type` is erased and does not count.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"

import { describe, expect, it } from "vitest"

const src = join(import.meta.dirname, "..", "src")

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : []
  })

/** comments out, so that an import in a doc example does not count */
const withoutComments = (code: string) => code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "")

/** the src/ modules a file loads at run time: static value imports and re-exports, and dynamic `import()` */
const valueImports = (file: string): Array<string> => {
  const code = withoutComments(readFileSync(file, "utf8"))
  const specs = [
    ...[...code.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+"([^"]+)"/gm)].map((m) => m[1]!),
    ...[...code.matchAll(/^\s*import\s+"([^"]+)"/gm)].map((m) => m[1]!),
    ...[...code.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]!)
  ]
  return specs
    .filter((spec) => spec.startsWith("."))
    .map((spec) => resolve(dirname(file), spec.replace(/\.js$/, ".ts")))
}

/** every cycle's modules, each cycle once (Tarjan's strongly connected components of two or more, or a self-import) */
const cycles = (graph: Map<string, Array<string>>): Array<Array<string>> => {
  let index = 0
  const indices = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const found: Array<Array<string>> = []
  const visit = (v: string) => {
    indices.set(v, index)
    low.set(v, index)
    index++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!))
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: Array<string> = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort())
    }
  }
  for (const v of graph.keys()) if (!indices.has(v)) visit(v)
  return found
}

/** the public modules (`src/*.ts`, the entry `index.ts` aside) a file loads at run time */
const publicValueImports = (file: string): Array<string> =>
  valueImports(file).filter((target) => dirname(target) === src && !target.endsWith("index.ts"))

/**
 * Public modules that reach other public modules through internal ones only
 * (issue 24, point 3): `CircuitBreaker.ts` finds the registry and the config in
 * `internal/breaker/`. Other public modules may join this list as they do the same.
 */
const breakerModules = ["BreakerConfig.ts", "BreakerRegistry.ts", "CircuitBreaker.ts"]

describe("the import graph of src/", () => {
  it("value and dynamic imports form no cycle", () => {
    const graph = new Map(sourceFiles(src).map((file) => [file, valueImports(file)]))
    expect(graph.size).toBeGreaterThan(20)
    const name = (file: string) => relative(src, file)
    const found = cycles(graph).map((c) => c.map(name))
    expect(found).toEqual([])
  })

  it("the breaker's public modules import no public module as a value, only internal ones", () => {
    const found = breakerModules.flatMap((module) =>
      publicValueImports(join(src, module)).map((target) => `${module} -> ${relative(src, target)}`)
    )
    expect(found).toEqual([])
  })

  it("the public-import check finds one: the entry re-exports public modules", () => {
    expect(publicValueImports(join(src, "index.ts")).map((file) => relative(src, file))).toContain("CircuitBreaker.ts")
  })

  it("the cycle check finds a cycle through a dynamic import", () => {
    const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]])
    expect(cycles(graph)).toEqual([["a", "b", "c"]])
  })
})
