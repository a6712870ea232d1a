/**
 * Traces of a protected LangGraph pipeline in OpenTelemetry: every
 * `protectNode` call runs in a span `agentarmour.node` with the node, its
 * breaker, the outcome and the fallback that answered. The bridge's layer
 * installs the OpenTelemetry SDK (`@effect/opentelemetry`); here the spans
 * go to an in-memory exporter and are printed, in production you would
 * pass an OTLP exporter instead.
 *
 * Run: npx tsx examples/telemetry.ts
 */
import { NodeSdk } from "@effect/opentelemetry"
import { Annotation, END, START, StateGraph } from "@langchain/langgraph"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { CascadeAnnotation, LangGraphBridge, protectNode } from "agentarmour/langgraph"
import { AgentMock } from "agentarmour/testing"

const State = Annotation.Root({
  ...CascadeAnnotation,
  query: Annotation<string>(),
  research: Annotation<string | undefined>(),
  summary: Annotation<string | undefined>()
})
type S = typeof State.State

export const main = async (): Promise<ReadonlyArray<string>> => {
  const exporter = new InMemorySpanExporter()
  const bridge = LangGraphBridge.make(NodeSdk.layer(() => ({
    resource: { serviceName: "agentarmour-example" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  })))

  // the researcher answers the first call; its provider fails on the second (a fault schedule)
  const researcher = AgentMock.faulty(async (s: S) => ({ research: `findings on ${s.query}` }), ["ok", "throw"])
  const research = protectNode(bridge, researcher, {
    breaker: { name: "research" },
    fallback: { degrade: (s: S) => ({ research: `cheap findings on ${s.query}` }) }
  })
  const summarise = protectNode(bridge, (s: S) => ({ summary: `summary of ${s.research}` }), { breaker: "summarise" })

  const graph = new StateGraph(State)
    .addNode("researcher", research)
    .addNode("summariser", summarise)
    .addEdge(START, "researcher")
    .addEdge("researcher", "summariser")
    .addEdge("summariser", END)
    .compile()

  await graph.invoke({ query: "circuit breakers" })
  await graph.invoke({ query: "fallbacks" })
  // SimpleSpanProcessor exports each span as it ends (read them before dispose shuts the SDK down)
  const spans = exporter.getFinishedSpans()
  await bridge.dispose()

  return spans
    .filter((span) => span.name === "agentarmour.node")
    .map((span) => {
      const a = span.attributes
      const fallback = a["agentarmour.fallback"] === undefined ? "" : ` fallback=${a["agentarmour.fallback"]}`
      return `${span.name} node=${a["agentarmour.node"]} breaker=${a["agentarmour.breaker"]} ` +
        `outcome=${a["agentarmour.outcome"]}${fallback}`
    })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then((lines) => console.log(lines.join("\n")))
}
