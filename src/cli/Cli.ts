/**
 * The `agentarmour` command line, built with `@effect/cli` and run by
 * `@effect/platform-node`'s `NodeRuntime.runMain`. Heavy modules (the SQLite
 * driver, the dashboard's HTTP server, the demo) are loaded only by the
 * commands that need them, so `--help` stays fast.
 *
 * Manners of a Unix tool: no colour unless the stream is a terminal and
 * `NO_COLOR` is unset; usage errors (printed by @effect/cli) exit 2, runtime
 * errors (one `agentarmour: ...` line) 1, SIGINT 130 and SIGTERM 143; control
 * characters from the ledger are escaped in tables.
 *
 * @since 0.1.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import type { Teardown } from "@effect/platform/Runtime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

import { messageOf } from "../internal/describe.js"
import { dashboard } from "./dashboardCommand.js"
import { demo } from "./demoCommand.js"
import type { CliError } from "./errors.js"
import { escapeControl } from "./format.js"
import { ledger } from "./ledgerCommand.js"
import { version as packageVersion } from "./version.js"

export {
  /**
   * @since 0.1.0
   * @category errors
   */
  CliError
} from "./errors.js"

export {
  /**
   * @since 0.2.0
   * @category formatting
   */
  escapeControl,
  /**
   * @since 0.1.0
   * @category formatting
   */
  table
} from "./format.js"

/**
 * The package version, read from package.json.
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = packageVersion

const root = Command.make("agentarmour").pipe(
  Command.withDescription("Circuit breakers, fallbacks and an audit ledger for LangGraph agents."),
  Command.withSubcommands([ledger, dashboard, demo])
)

/**
 * Parses `argv` (as `process.argv`) and runs the command. Usage errors and
 * help are printed by `@effect/cli`.
 *
 * @since 0.1.0
 */
export const run = Command.run(root, { name: "agentarmour", version })

/**
 * @effect/cli 0.77 reports an unknown command inside a group (`ledger bogus`)
 * as one of the root ("Invalid subcommand for agentarmour - use one of
 * 'ledger', ..."): its outer level rewrites the inner level's message. This
 * names the argument and the group it is not a command of, from the commands'
 * own descriptors; everything else is left to @effect/cli.
 */
const unknownCommand = (
  [first, second]: ReadonlyArray<string | undefined>
): Option.Option<ValidationError.ValidationError> =>
  Option.orElse(
    notACommandOf("agentarmour", root.descriptor, first),
    () => (first === "ledger" ? notACommandOf("ledger", ledger.descriptor, second) : Option.none())
  )

/** `arg` when it is a word (not a flag) that is not a command of the group `name` */
const notACommandOf = (name: string, group: Descriptor.Command<unknown>, arg: string | undefined) => {
  if (arg === undefined || arg.startsWith("-")) return Option.none()
  const commands = Array.from(HashMap.keys(Descriptor.getSubcommands(group))).sort()
  if (commands.includes(arg)) return Option.none()
  const oneOf = commands.map((c) => `'${c}'`).join(", ")
  return Option.some(
    ValidationError.commandMismatch(HelpDoc.p(`Invalid subcommand for ${name}: '${arg}' - use one of ${oneOf}`))
  )
}

/**
 * Parses `argv` (as `process.argv`) and runs the command; a usage error is
 * printed as @effect/cli prints it.
 */
const parseAndRun = (argv: ReadonlyArray<string>) =>
  Effect.suspend(() =>
    Option.match(unknownCommand(argv.slice(2)), {
      onNone: () => run(argv),
      onSome: (e) => Effect.zipRight(Console.error(HelpDoc.toAnsiText(e.error)), Effect.fail(e))
    })
  )

// --- manners -------------------------------------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g

/** colour only on a terminal and when `NO_COLOR` is unset or empty (https://no-color.org) */
const colourOn = (stream: NodeJS.WriteStream) => stream.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""

const withoutColour = (on: boolean) => (args: ReadonlyArray<unknown>): Array<unknown> =>
  args.map((a) => (on || typeof a !== "string" ? a : a.replace(ANSI, "")))

/**
 * The console, with @effect/cli's colours (help, errors) removed from a
 * stream that is not a terminal or when `NO_COLOR` is set.
 */
const consoleWithManners = (base: Console.Console): Console.Console => {
  const out = withoutColour(colourOn(process.stdout))
  const err = withoutColour(colourOn(process.stderr))
  return {
    ...base,
    log: (...args) => base.log(...out(args)),
    error: (...args) => base.error(...err(args)),
    unsafe: {
      ...base.unsafe,
      log: (...args) => base.unsafe.log(...out(args)),
      error: (...args) => base.unsafe.error(...err(args))
    }
  }
}

/** a runtime error as one line on stderr; @effect/cli has printed its usage errors already */
const report = (cause: Cause.Cause<CliError | ValidationError.ValidationError>): Effect.Effect<void> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const line = (message: string) => Console.error(`agentarmour: ${escapeControl(message)}`)
  return Option.match(Cause.failureOption(cause), {
    onSome: (e) => (ValidationError.isValidationError(e) ? Effect.void : line(e.message)),
    onNone: () => {
      const defect = Cause.squash(cause)
      return line(`unexpected error: ${messageOf(defect)}`)
    }
  })
}

/**
 * What the CLI runs in: @effect/cli's environment (file system, path,
 * terminal) from `@effect/platform-node`, and help without its built-in
 * options. Not the whole `NodeContext.layer`: its worker manager and command
 * executor, which no command uses, add 10-20 % to the start-up of `--help`.
 */
const environment = Layer.mergeAll(
  NodeFileSystem.layer,
  NodePath.layer,
  NodeTerminal.layer,
  CliConfig.layer({ showBuiltIns: false })
)

/**
 * The whole program for `argv`: the command, with errors reported as one
 * line each on stderr.
 *
 * @since 0.2.0
 */
export const program = (argv: ReadonlyArray<string>): Effect.Effect<void, CliError | ValidationError.ValidationError> =>
  parseAndRun(argv).pipe(
    Effect.tapErrorCause(report),
    Effect.provide(environment),
    (self) => Effect.flatMap(Effect.console, (base) => Effect.withConsole(self, consoleWithManners(base)))
  )

// --- exit codes ----------------------------------------------------------------------------------------------------

/**
 * The exit code of a finished program: 0, 2 for a usage error, 1 for any
 * other failure, 130 if it was interrupted.
 *
 * @since 0.3.0
 */
export const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.isInterruptedOnly(exit.cause)) return 130
  return Option.exists(Cause.failureOption(exit.cause), ValidationError.isValidationError) ? 2 : 1
}

/**
 * `runMain` interrupts the program on SIGINT and SIGTERM; this teardown
 * remembers which arrived, to exit with 130 or 143.
 */
const signalTeardown = (): Teardown => {
  let signalled: number | undefined
  const onSigint = () => stop(130)
  const onSigterm = () => stop(143)
  const forget = () => {
    process.removeListener("SIGINT", onSigint)
    process.removeListener("SIGTERM", onSigterm)
  }
  const stop = (code: number) => {
    signalled = code
    forget()
  }
  process.on("SIGINT", onSigint)
  process.on("SIGTERM", onSigterm)
  return (exit, onExit) => {
    forget()
    onExit(signalled ?? exitCode(exit))
  }
}

/**
 * Runs the CLI as the process with `NodeRuntime.runMain`: exit code from
 * {@link exitCode}; on SIGINT or SIGTERM the command is interrupted (the
 * dashboard closes its clients, the demo flushes its ledger) and the process
 * exits with 130 or 143.
 *
 * @since 0.2.0
 */
export const main = (argv: ReadonlyArray<string>): void =>
  NodeRuntime.runMain(program(argv), {
    // errors are reported by `program`, in the CLI's words; log lines keep Effect's default format
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: signalTeardown()
  })
