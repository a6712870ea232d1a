/**
 * Entry point of the `agentarmour` binary.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Cli from "./Cli.js"

const program = Cli.run(process.argv).pipe(
  Effect.catchAll((error) =>
    Effect.sync(() => {
      // @effect/cli has already printed its own validation errors with usage help
      if (error instanceof Cli.CliError) process.stderr.write(`agentarmour: ${error.message}\n`)
      process.exitCode = 1
    })
  ),
  Effect.catchAllDefect((defect) =>
    Effect.sync(() => {
      process.stderr.write(`agentarmour: unexpected error: ${defect instanceof Error ? defect.message : String(defect)}\n`)
      process.exitCode = 2
    })
  ),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
