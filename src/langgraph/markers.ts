/**
 * The marker keys a protected node adds to its update, and the LangGraph
 * channels that keep them (LangGraph drops update keys that are not
 * channels of the state).
 *
 * @since 0.1.0
 */
import { Annotation } from "@langchain/langgraph"

/**
 * `Cause.pretty` of the failure a fallback answered for (names the failing function).
 *
 * @since 0.1.0
 */
export const TRACEBACK_KEY = "__cascadebreaker_traceback__" as const
/**
 * Which strategy answered: "cache" | "degrade" | "escalate" | "decompose" | "none".
 *
 * @since 0.1.0
 */
export const FALLBACK_KEY = "__cascadebreaker_fallback__" as const
/**
 * The state keys that were masked (`undefined`) for the node because they are quarantined.
 *
 * @since 0.1.0
 */
export const QUARANTINED_KEY = "__cascadebreaker_quarantined__" as const

const latest = <A>(_: A, b: A) => b

/**
 * Channels for the marker keys: spread them into your state,
 * `Annotation.Root({ ...CascadeAnnotation, ...yourChannels })`. Each keeps the
 * latest value written (several nodes may write in one step).
 *
 * @since 0.1.0
 */
export const CascadeAnnotation = {
  [TRACEBACK_KEY]: Annotation<string | undefined>({ reducer: latest, default: () => undefined }),
  [FALLBACK_KEY]: Annotation<string | undefined>({ reducer: latest, default: () => undefined }),
  [QUARANTINED_KEY]: Annotation<ReadonlyArray<string> | undefined>({ reducer: latest, default: () => undefined })
}
