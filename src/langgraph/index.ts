/**
 * LangGraph adapter: `agentarmour/langgraph`.
 *
 * @since 0.1.0
 */
export {
  /**
   * A node returned neither an object nor a `Command`.
   *
   * @since 0.2.0
   */
  InvalidUpdateError
} from "./errors.js"
export {
  /**
   * A drop-in for `ToolNode` that checks every call with a ToolGuard.
   *
   * @since 0.3.0
   */
  guardedToolNode,
  /**
   * Like `toolsCondition`, and routes `invalid_tool_calls` to `"tools"` too.
   *
   * @since 0.3.0
   */
  routeToolCalls,
  /**
   * Span attribute: the number of tool calls the node answered.
   *
   * @since 0.3.0
   */
  SPAN_TOOL_CALLS,
  /**
   * Span attribute: how many of them were refused or failed.
   *
   * @since 0.3.0
   */
  SPAN_TOOL_REFUSALS
} from "./guardedToolNode.js"
export type {
  /**
   * @since 0.3.0
   */
  GuardableTool,
  /**
   * @since 0.3.0
   */
  GuardedToolNodeOptions,
  /**
   * @since 0.3.0
   */
  ToolApprovalRequest
} from "./guardedToolNode.js"
export type {
  /**
   * Dollars per million tokens, per model, for `protectNode`'s `budget`.
   *
   * @since 0.2.0
   */
  Pricing
} from "./internal/usage.js"
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
   * The name of the span around every protected call: `agentarmour.node`.
   *
   * @since 0.2.0
   */
  NODE_SPAN,
  /**
   * Wraps a LangGraph node in a breaker, a fallback and the guard.
   *
   * @since 0.1.0
   */
  protectNode,
  /**
   * Span attribute: the breaker's name.
   *
   * @since 0.2.0
   */
  SPAN_BREAKER,
  /**
   * Span attribute: the fallback that answered.
   *
   * @since 0.2.0
   */
  SPAN_FALLBACK,
  /**
   * Span attribute: the graph node's name.
   *
   * @since 0.2.0
   */
  SPAN_NODE,
  /**
   * Span attribute: the call's outcome.
   *
   * @since 0.2.0
   */
  SPAN_OUTCOME
} from "./protectNode.js"
export type {
  /**
   * Why a budget refused a call, in `Outcome` and the `agentarmour` event.
   *
   * @since 0.2.0
   */
  BudgetRefusal,
  /**
   * @since 0.1.0
   */
  FallbackOption,
  /**
   * @since 0.2.0
   */
  Markers,
  /**
   * @since 0.1.0
   */
  Node,
  /**
   * @since 0.2.0
   */
  NodeEvent,
  /**
   * @since 0.1.0
   */
  Outcome,
  /**
   * @since 0.2.0
   */
  Protected,
  /**
   * @since 0.2.0
   */
  ProtectedNode,
  /**
   * @since 0.1.0
   */
  ProtectOptions,
  /**
   * @since 0.2.0
   */
  Subgraph
} from "./protectNode.js"
