/**
 * The errors of the LangGraph adapter.
 *
 * @since 0.2.0
 */
import * as Schema from "effect/Schema"

/**
 * A node returned something LangGraph cannot apply as a state update: a
 * primitive (string, number, boolean, bigint, symbol) or an array. It counts
 * as a failure of that node; its fallback answers. (`undefined` and `null`
 * are "no update", as in LangGraph.)
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidUpdateError extends Schema.TaggedError<InvalidUpdateError>()("InvalidUpdateError", {
  /** the graph node's name (`config.metadata.langgraph_node`), else the breaker's */
  node: Schema.String,
  /** what it returned, e.g. `a string ("done")` */
  returned: Schema.String
}) {
  override get message(): string {
    return `node "${this.node}" returned ${this.returned}; a node must return an object, a Command, or nothing`
  }
}
