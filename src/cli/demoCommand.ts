/**
 * `agentarmour demo`: the faulty multi-agent LangGraph pipeline of
 * `npm start`, writing a ledger.
 *
 * @since 0.3.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

import { messageOf } from "../internal/describe.js"
import { hasPeer } from "../internal/peer.js"
import { CliError } from "./errors.js"
import { withFlagSchema } from "./options.js"

const db = Options.text("db").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription("Where the demo writes its ledger (default: cascadebreaker.db)."),
  Options.withDefault("cascadebreaker.db")
)

const Runs = Schema.Number.pipe(
  Schema.greaterThanOrEqualTo(1, { message: (issue) => `must be at least 1, got ${String(issue.actual)}` })
)

const runs = Options.integer("runs").pipe(
  Options.withPseudoName("N"),
  Options.withDescription("How many times to run the pipeline (default: 50)."),
  Options.withDefault(50),
  withFlagSchema("runs", Runs)
)

/** LangGraph is an optional peer dependency of agentarmour */
const checkPeers = Effect.suspend(() => {
  const missing = ["@langchain/langgraph", "@langchain/core"].filter((name) => !hasPeer(name))
  return missing.length === 0 ? Effect.void : new CliError({
    message: `the demo needs ${missing.join(" and ")}: npm install ${missing.join(" ")}`
  })
})

/**
 * Runs the demo; on SIGINT/SIGTERM the fiber is interrupted: the demo is
 * aborted and waited for until it has flushed its ledger.
 */
const runDemo = (options: { readonly db: string; readonly runs: number }) =>
  Effect.gen(function*() {
    // the demo is examples/langgraph_pipeline.ts (compiled next to src/ in dist/)
    const demo = yield* Effect.promise(() => import("../../examples/langgraph_pipeline.js"))
    yield* Effect.async<void, CliError>((resume) => {
      const controller = new AbortController()
      const done = demo.runDemo({ filename: options.db, runs: options.runs, signal: controller.signal }).then(
        () => resume(Effect.void),
        (e: unknown) => resume(new CliError({ message: `the demo failed: ${messageOf(e)}` }))
      )
      return Effect.promise(() => {
        controller.abort()
        return done
      })
    })
  })

/**
 * `agentarmour demo [--db FILE] [--runs N]`.
 *
 * @since 0.3.0
 */
export const demo = Command.make("demo", { db, runs }, (o) => Effect.zipRight(checkPeers, runDemo(o))).pipe(
  Command.withDescription("Run the faulty multi-agent LangGraph pipeline demo, writing a ledger.")
)
