/**
 * LangGraph adapter: `agentarmour/langgraph`.
 *
 * @since 0.1.0
 */
/**
 * @since 0.1.0
 */
export * as LangGraphBridge from "./LangGraphBridge.js"
export {
  /**
   * Annotation channels for the marker keys, to spread into the graph's `Annotation.Root`.
   *
   * @since 0.1.0
   */
  CascadeAnnotation,
  /**
   * `__cascadebreaker_fallback__`: which fallback answered.
   *
   * @since 0.1.0
   */
  FALLBACK_KEY,
  /**
   * `__cascadebreaker_quarantined__`: the keys the guard quarantined.
   *
   * @since 0.1.0
   */
  QUARANTINED_KEY,
  /**
   * `__cascadebreaker_traceback__`: the failure the fallback answered for.
   *
   * @since 0.1.0
   */
  TRACEBACK_KEY
} from "./markers.js"
export {
  /**
   * Wraps a LangGraph node in a breaker, a fallback and the guard.
   *
   * @since 0.1.0
   */
  protectNode
} from "./protectNode.js"
export type {
  /**
   * @since 0.1.0
   */
  FallbackOption,
  /**
   * @since 0.1.0
   */
  Node,
  /**
   * @since 0.1.0
   */
  Outcome,
  /**
   * @since 0.1.0
   */
  ProtectOptions
} from "./protectNode.js"
