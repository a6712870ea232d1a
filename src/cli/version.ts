/**
 * The package version, read from `package.json` without loading Effect, so
 * `agentarmour --version` answers before any other module is loaded.
 *
 * @since 0.2.0
 */
import { createRequire } from "node:module"

/**
 * The version of the installed `agentarmour` package.
 *
 * @since 0.2.0
 * @category constants
 */
export const version: string = (() => {
  const require = createRequire(import.meta.url)
  // from src/cli (sources) or dist/src/cli (built)
  for (const path of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = require(path) as { name?: string; version?: string }
      if (pkg.name === "agentarmour" && pkg.version !== undefined) return pkg.version
    } catch {
      // try the next location
    }
  }
  return "0.0.0"
})()
