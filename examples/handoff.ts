/**
 * A multi-agent handoff in the Command style of LangGraph.js's "agent
 * network" how-to (a travel advisor and a hotel advisor hand the
 * conversation to each other with `new Command({ goto, update })`), ported
 * with scripted models (`AgentMock.model`) and protected by agentarmour:
 *
 *   - the travel advisor's model hangs in the second conversation: the
 *     breaker's callTimeout stops it and a cheaper model answers — with a
 *     Command, so the handoff to the hotel advisor still happens
 *   - the hotel advisor's provider fails in the third conversation: a human
 *     is paged (escalate) and answers with a plain update, although the
 *     agent itself returns Commands
 *
 * Every protected call emits the `agentarmour` custom event, printed here
 * from `graph.streamEvents(..., { version: "v2" })`.
 *
 * Run: npx tsx examples/handoff.ts
 */
import { AIMessage, type BaseMessage, HumanMessage } from "@langchain/core/messages"
import { Annotation, Command, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph"
import { CascadeAnnotation, FALLBACK_KEY, LangGraphBridge, type NodeEvent, protectNode } from "agentarmour/langgraph"
import { AgentMock } from "agentarmour/testing"

const State = Annotation.Root({ ...MessagesAnnotation.spec, ...CascadeAnnotation })
type S = typeof State.State

const textOf = (m: BaseMessage | undefined) => (typeof m?.content === "string" ? m.content : "")
const lastHuman = (s: S) => textOf([...s.messages].reverse().find((m) => m._getType() === "human"))
export const main = async (): Promise<ReadonlyArray<string>> => {
  const bridge = LangGraphBridge.make()

  // --- the models: one step per conversation; the faults are steps too -----------------------
  const travelModel = AgentMock.model([
    { text: "Aruba: warm and sunny all year.", latency: 5 }, // healthy
    { text: "Aruba: warm and sunny all year.", latency: "10 seconds" }, // hangs
    { text: "Aruba: warm and sunny all year.", latency: 5 }
  ], { name: "gpt-4o" })
  const hotelModel = AgentMock.model([
    "Stay at the Bucuti & Tara Beach Resort.",
    "Stay at the Bucuti & Tara Beach Resort.",
    { fail: "server_error" } // the provider is down: a 500
  ], { name: "gpt-4o-mini" })

  // --- the agents: each answers, then hands off (or ends) with a Command ---------------------
  const travelAdvisor = async (s: S, config: { signal?: AbortSignal }) => {
    const reply = await travelModel.invoke(s.messages, config.signal === undefined ? {} : { signal: config.signal })
    const wantsHotel = /hotel/i.test(lastHuman(s))
    return new Command({
      goto: wantsHotel ? "hotel_advisor" : END,
      update: { messages: [new AIMessage({ content: textOf(reply), name: "travel_advisor" })] }
    })
  }
  const cheaperTravelModel = () =>
    new Command({
      goto: "hotel_advisor",
      update: { messages: [new AIMessage({ content: "(backup model) Try Aruba.", name: "travel_advisor" })] }
    })
  const hotelAdvisor = async (s: S) => {
    const reply = await hotelModel.invoke(s.messages)
    return new Command({
      goto: END,
      update: { messages: [new AIMessage({ content: textOf(reply), name: "hotel_advisor" })] }
    })
  }

  // --- protection --------------------------------------------------------------------------
  const graph = new StateGraph(State)
    .addNode(
      "travel_advisor",
      protectNode(bridge, travelAdvisor, {
        breaker: { name: "travel_advisor", callTimeout: "100 millis" },
        fallback: { degrade: cheaperTravelModel }
      }),
      { ends: ["hotel_advisor", END] }
    )
    .addNode(
      "hotel_advisor",
      protectNode(bridge, hotelAdvisor, {
        breaker: { name: "hotel_advisor" },
        fallback: {
          // a plain update, although the agent returns Commands
          escalate: async (name) => ({
            messages: [
              new AIMessage({
                content: `[paged a human for ${name}] We will email you hotel options.`,
                name: "on_call"
              })
            ]
          })
        }
      }),
      { ends: [END] }
    )
    .addEdge(START, "travel_advisor")
    .compile()

  const lines: Array<string> = []
  for (const title of ["healthy", "travel model hangs", "hotel provider down"]) {
    const events: Array<NodeEvent> = []
    let final: S | undefined
    const input = { messages: [new HumanMessage("Somewhere warm in the Caribbean, and a hotel there")] }
    for await (const e of graph.streamEvents(input, { version: "v2" })) {
      if (e.event === "on_custom_event" && e.name === "agentarmour") events.push(e.data as NodeEvent)
      if (e.event === "on_chain_end" && e.name === "LangGraph") final = e.data.output as S
    }
    lines.push(`-- ${title}`)
    for (const m of final?.messages.slice(1) ?? []) lines.push(`${m.name ?? "human"}: ${textOf(m)}`)
    const shown = events.map((e) => `${e.node} ${e.outcome}${e.fallback ? `/${e.fallback}` : ""} ${e.state}`)
    lines.push(`events: ${shown.join(", ")}`)
    lines.push(`last fallback marker: ${final?.[FALLBACK_KEY] ?? "none"}`)
  }
  await bridge.dispose()
  travelModel.assertConsumed()
  hotelModel.assertConsumed()
  return lines
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then((lines) => console.log(lines.join("\n")))
}
