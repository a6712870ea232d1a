/**
 * Sleeping on Effect's `Clock`: the clock of the bridge whose node is being
 * called (so `TestClock.adjust` drives it when the bridge's layer provides
 * `TestClock`), real time elsewhere.
 *
 * @internal
 */
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"

import * as CallRuntime from "../../internal/callRuntime.js"

// bridges register the runtime of each node call only once a test needs it (this module is loaded)
CallRuntime.enable()

/** the runtime of the bridge whose LangGraph call we are in, or the default runtime (real time) */
export const currentRuntime = (): Runtime.Runtime<never> =>
  CallRuntime.lookup(AsyncLocalStorageProviderSingleton.getInstance().getStore()) ?? Runtime.defaultRuntime

/** the LangGraph config of the current call (thread_id, node), when there is one */
export const currentConfig = (): {
  readonly configurable?: Record<string, unknown>
  readonly metadata?: Record<string, unknown>
} | undefined => {
  const config: unknown = AsyncLocalStorageProviderSingleton.getRunnableConfig()
  return typeof config === "object" && config !== null ? config : undefined
}

/** sleeps `duration` on `runtime`'s clock; an aborted `signal` rejects with its reason */
export const sleep = (
  runtime: Runtime.Runtime<never>,
  duration: Duration.DurationInput,
  signal?: AbortSignal
): Promise<void> =>
  Runtime.runPromise(runtime)(Effect.sleep(duration), signal === undefined ? undefined : { signal }).catch(
    (e: unknown) => {
      throw signal?.aborted ? (signal.reason ?? e) : e
    }
  )
