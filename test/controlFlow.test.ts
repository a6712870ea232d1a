import { describe, expect, it } from "@effect/vitest"
import {
  Command,
  GraphInterrupt,
  GraphRecursionError,
  InvalidUpdateError,
  isGraphBubbleUp,
  NodeInterrupt,
  ParentCommand
} from "@langchain/langgraph"
import { CircuitBreaker, Ledger, withBreaker } from "agentarmour"
import { Effect, Exit } from "effect"

const controlFlow = () => [
  new GraphInterrupt([{ value: "ask a human" }]),
  new NodeInterrupt("stop here"),
  new ParentCommand(new Command({ goto: "elsewhere" }))
]
const failures = () => [
  new GraphRecursionError("too deep"),
  new InvalidUpdateError("bad update"),
  new Error("GraphInterrupt"),
  Object.assign(new Error("x"), { name: "GraphInterrupt" })
]

describe("isControlFlow against LangGraph's own errors", () => {
  it("agrees with LangGraph's isGraphBubbleUp on its real error classes", () => {
    for (const e of [...controlFlow(), ...failures()]) {
      expect(CircuitBreaker.isControlFlow(e), (e as Error).name).toBe(isGraphBubbleUp(e))
    }
    expect(controlFlow().every(isGraphBubbleUp)).toBe(true)
    expect(failures().some(isGraphBubbleUp)).toBe(false)
  })

  it("primitives and objects with a throwing getter are not control flow", () => {
    const hostile = Object.defineProperty({}, "is_bubble_up", {
      get() {
        throw new Error("no")
      }
    })
    for (const v of ["GraphInterrupt", 1, null, undefined, hostile]) expect(CircuitBreaker.isControlFlow(v)).toBe(false)
  })

  it.effect("a real GraphInterrupt or ParentCommand thrown by a node passes through a breaker uncounted", () =>
    Effect.gen(function*() {
      const b = yield* CircuitBreaker.make({ name: "t", failureThreshold: 1 })
      for (const e of controlFlow()) {
        const exit = yield* Effect.exit(Effect.die(e).pipe(withBreaker(b)))
        expect(Exit.isFailure(exit)).toBe(true)
      }
      expect(yield* b.state).toBe("CLOSED")
      expect((yield* b.metrics).failures).toBe(0)
      yield* Effect.exit(Effect.die(new GraphRecursionError("too deep")).pipe(withBreaker(b)))
      expect(yield* b.state).toBe("OPEN")
    }).pipe(Effect.provide(Ledger.layerMemory)))
})
