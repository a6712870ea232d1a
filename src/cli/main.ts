/**
 * Entry point of the `agentarmour` binary. It loads nothing but `package.json`
 * for `--version`; everything else (`@effect/cli`, then per command the SQLite
 * driver, the dashboard or the demo) is imported when a command needs it.
 *
 * @since 0.1.0
 */
import { version } from "./version.js"

const args = process.argv.slice(2)
if (args.length === 1 && args[0] === "--version") {
  process.stdout.write(`${version}\n`)
} else {
  const Cli = await import("./Cli.js")
  Cli.main(process.argv)
}
