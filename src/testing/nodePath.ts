/**
 * `AgentMock.nodePath(graph, config)`: the nodes a thread ran, in order,
 * read from the checkpointer's state history.
 *
 * @since 0.3.0
 */

/**
 * What `nodePath` needs of a compiled graph (with a checkpointer).
 *
 * @since 0.3.0
 * @category models
 */
export interface GraphWithHistory {
  readonly getStateHistory: (config: any) => AsyncIterable<{ readonly next: ReadonlyArray<string> }>
}

/**
 * The nodes the thread of `config` ran, in order: each checkpoint's `next`
 * (the nodes of the step it started), oldest first, up to the last
 * checkpoint (whose `next` has not run: the end, or a pending interrupt).
 * Nodes of one superstep appear together, in LangGraph's order.
 *
 * @since 0.3.0
 * @category assertions
 */
export const nodePath = async (
  graph: GraphWithHistory,
  config: { readonly configurable?: Record<string, unknown> }
): Promise<ReadonlyArray<string>> => {
  const snapshots: Array<{ readonly next: ReadonlyArray<string> }> = []
  for await (const snapshot of graph.getStateHistory(config)) snapshots.push(snapshot)
  // newest first: the newest checkpoint's `next` has not run
  return snapshots.slice(1).reverse().flatMap((s) => s.next.filter((n) => n !== "__start__"))
}
