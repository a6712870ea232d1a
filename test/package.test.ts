import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"

import { describe, expect, it } from "vitest"

import { missingPeer, requirePeer } from "../src/internal/peer.js"

const root = join(import.meta.dirname, "..")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))

/** packages statically imported (values, not `import type`) from `entry`, transitively */
const valuePackages = (entry: string) => {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const m of readFileSync(file, "utf8").matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+"([^"]+)"/gms)) {
      const spec = m[1]!
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")))
      else packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!)
    }
  }
  visit(join(root, "src", entry))
  return packages
}

describe("the package", () => {
  it("@effect/sql-pg is an optional peer dependency, also a dev dependency", () => {
    expect(pkg.dependencies["@effect/sql-pg"]).toBeUndefined()
    expect(pkg.peerDependencies["@effect/sql-pg"]).toBeDefined()
    expect(pkg.peerDependenciesMeta["@effect/sql-pg"]).toEqual({ optional: true })
    expect(pkg.devDependencies["@effect/sql-pg"]).toBeDefined()
  })

  it("agentarmour/pg links without @effect/sql-pg (no static import) and names it when missing", () => {
    // a static import of a missing package fails before any of our code runs; the check needs it lazy
    expect(valuePackages("pg/index.ts")).not.toContain("@effect/sql-pg")
    expect(readFileSync(join(root, "src/pg/index.ts"), "utf8")).toContain(
      `requirePeer("@effect/sql-pg", "agentarmour/pg")`
    )
    expect(() => requirePeer("@effect/sql-pg", "agentarmour/pg")).not.toThrow()
    expect(() => requirePeer("@agentarmour-test/not-installed", "agentarmour/pg")).toThrow(
      missingPeer("@agentarmour-test/not-installed", "agentarmour/pg")
    )
    expect(missingPeer("@effect/sql-pg", "agentarmour/pg")).toBe(
      "agentarmour/pg needs the optional peer dependency @effect/sql-pg, which is not installed: npm install @effect/sql-pg"
    )
  })

  it("installs without running our scripts: no prepare or install script", () => {
    for (const script of ["prepare", "preinstall", "install", "postinstall"]) {
      expect(pkg.scripts[script]).toBeUndefined()
    }
  })

  it.runIf(existsSync(join(root, "dist/src/index.js")))(
    "the tarball holds LICENSE, the built entry points and docs, but no source maps or screenshots",
    () => {
      const [packed] = JSON.parse(
        execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" })
      ) as Array<{ files: Array<{ path: string }> }>
      const files = packed!.files.map((f) => f.path)
      expect(files).toContain("LICENSE")
      expect(files).toContain("README.md")
      expect(files).toContain("CHANGELOG.md")
      expect(files).toContain("docs/cli.md")
      expect(files.filter((f) => f.endsWith(".map"))).toEqual([])
      expect(files.filter((f) => f.endsWith(".png"))).toEqual([])
      expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([])
      for (const target of Object.values(pkg.exports as Record<string, string | Record<string, string>>)) {
        for (const path of typeof target === "string" ? [target] : Object.values(target)) {
          expect(files).toContain(path.replace(/^\.\//, ""))
        }
      }
    },
    60_000
  )
})
