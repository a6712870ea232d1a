/**
 * `agentarmour dashboard`: serves the live dashboard over a ledger until
 * SIGINT or SIGTERM.
 *
 * @since 0.3.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

import { CliError } from "./errors.js"
import { db, tablePrefix, withFlagSchema } from "./options.js"

const Port = Schema.Number.pipe(
  Schema.between(0, 65535, { message: (issue) => `must be between 0 and 65535, got ${String(issue.actual)}` })
)

const port = Options.integer("port").pipe(
  Options.withPseudoName("PORT"),
  Options.withDescription("TCP port to listen on; 0 picks a free port (default: 8765)."),
  Options.withDefault(8765),
  withFlagSchema("port", Port)
)

const host = Options.text("host").pipe(
  Options.withPseudoName("HOST"),
  Options.withDescription("Interface to bind; the default 127.0.0.1 keeps the dashboard local."),
  Options.withDefault("127.0.0.1")
)

/**
 * `agentarmour dashboard [--db FILE] [--table-prefix PREFIX] [--port PORT] [--host HOST]`.
 *
 * @since 0.3.0
 */
export const dashboard = Command.make("dashboard", { db, tablePrefix, port, host }, (o) =>
  Effect.gen(function*() {
    // the HTTP server is loaded by this command only
    const { Dashboard } = yield* Effect.promise(() => import("../dashboard/index.js"))
    // serves until the fiber is interrupted (SIGINT/SIGTERM), then closes the server and its SSE clients
    yield* Dashboard.serve(o).pipe(Effect.mapError((e) => new CliError({ message: e.message })))
  })).pipe(Command.withDescription("Serve the live dashboard over the ledger until Ctrl-C."))
