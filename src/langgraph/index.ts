/**
 * LangGraph adapter: `agentarmour/langgraph`.
 *
 * @since 0.1.0
 */
export { InvalidUpdateError } from "./errors.js"
export * as LangGraphBridge from "./LangGraphBridge.js"
export { CascadeAnnotation, FALLBACK_KEY, QUARANTINED_KEY, TRACEBACK_KEY } from "./markers.js"
export { NODE_SPAN, protectNode, SPAN_BREAKER, SPAN_FALLBACK, SPAN_NODE, SPAN_OUTCOME } from "./protectNode.js"
export type {
  FallbackOption,
  Markers,
  Node,
  NodeEvent,
  Outcome,
  Protected,
  ProtectedNode,
  ProtectOptions,
  Subgraph
} from "./protectNode.js"
