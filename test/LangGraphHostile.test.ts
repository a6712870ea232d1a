/**
 * Issue 21 point 9: no value a node throws, however hostile, escapes a
 * protected node. Every hostile value, thrown by every kind of node, under
 * every fallback strategy, in a real `StateGraph`.
 */
import { Annotation, END, MemorySaver, START, StateGraph } from "@langchain/langgraph"
import {
  CascadeAnnotation,
  FALLBACK_KEY,
  LangGraphBridge,
  type Outcome,
  protectNode,
  TRACEBACK_KEY
} from "agentarmour/langgraph"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"

const State = Annotation.Root({
  ...CascadeAnnotation,
  query: Annotation<string>(),
  research: Annotation<string | undefined>()
})
type S = typeof State.State

const oneNode = (node: any, checkpointer?: MemorySaver) =>
  new StateGraph(State)
    .addNode("researcher", node)
    .addEdge(START, "researcher")
    .addEdge("researcher", END)
    .compile(checkpointer === undefined ? {} : { checkpointer })

const boom = () => {
  throw new Error("trap")
}
const everyTrapThrows: ProxyHandler<object> = {
  get: boom,
  set: boom,
  has: boom,
  ownKeys: boom,
  getOwnPropertyDescriptor: boom,
  defineProperty: boom,
  deleteProperty: boom,
  getPrototypeOf: boom,
  setPrototypeOf: boom,
  isExtensible: boom,
  preventExtensions: boom,
  apply: boom,
  construct: boom
}

/** what a hostile node throws (made fresh for each call) */
const hostile: ReadonlyArray<readonly [string, () => unknown]> = [
  ["an object whose message getter throws", () => ({
    get message(): string {
      throw new Error("getter")
    }
  })],
  ["an Error whose message, name and stack getters throw", () => {
    const e = new Error("hidden")
    for (const key of ["message", "name", "stack"]) {
      Object.defineProperty(e, key, {
        get() {
          throw new Error("getter")
        }
      })
    }
    return e
  }],
  ["a Proxy that throws on every trap", () => new Proxy({}, everyTrapThrows)],
  ["a function Proxy that throws on every trap", () => new Proxy(() => undefined, everyTrapThrows)],
  ["null", () => null],
  ["undefined", () => undefined],
  ["a symbol", () => Symbol("hostile")],
  ["an object whose toString, valueOf and Symbol.toPrimitive throw", () => ({
    toString: boom,
    valueOf: boom,
    [Symbol.toPrimitive]: boom
  })],
  ["a revoked Proxy", () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    return proxy
  }],
  ["a frozen Error", () => Object.freeze(new Error("frozen"))],
  ["a frozen object with a null prototype", () => Object.freeze(Object.create(null))],
  ["a circular object", () => {
    const o: Record<string, unknown> = { message: "circular" }
    o["self"] = o
    o["cause"] = o
    return o
  }],
  ["an object whose _tag getter throws", () => ({
    get _tag(): string {
      throw new Error("tag getter")
    }
  })],
  ["a very long message", () => new Error("x".repeat(1_000_000))]
]

type Kind = "sync" | "async" | "effect"
const kinds: ReadonlyArray<Kind> = ["sync", "async", "effect"]

/** a node that succeeds on its first call when `warm` (to fill the cache), then throws `make()` */
const failing = (kind: Kind, make: () => unknown, warm: boolean) => {
  let calls = 0
  return (_s: S): any => {
    calls += 1
    if (warm && calls === 1) return { research: "fresh" }
    switch (kind) {
      case "sync":
        throw make()
      case "async":
        return Promise.resolve().then(() => {
          throw make()
        })
      case "effect":
        return Effect.fail(make())
    }
  }
}

interface StrategyCase {
  readonly fallback: any
  /** the marker the answer carries */
  readonly served: string
  /** the node answers once before it fails (the cache has something) */
  readonly warm: boolean
  /** what the fallback answers */
  readonly research: string | undefined
}

const strategies: Record<string, StrategyCase> = {
  cache: { fallback: "cache", served: "cache", warm: true, research: "fresh" },
  degrade: {
    fallback: { degrade: (_s: S, ctx: any) => ({ research: `degraded ${typeof ctx.traceback}` }) },
    served: "degrade",
    warm: false,
    research: "degraded string"
  },
  escalate: {
    fallback: { escalate: (name: string) => ({ research: `escalated ${name.split("-")[0]}` }) },
    served: "escalate",
    warm: false,
    research: "escalated hostile"
  },
  decompose: {
    fallback: {
      decompose: {
        split: () => [1, 2],
        run: (n: number) => n * 10,
        merge: (xs: ReadonlyArray<number>) => ({ research: `merged ${xs.join(",")}` })
      }
    },
    served: "decompose",
    warm: false,
    research: "merged 10,20"
  },
  // the cache is empty: nothing answers, and the failure still does not escape
  none: { fallback: "cache", served: "none", warm: false, research: undefined }
}

const bridge = LangGraphBridge.make()
afterAll(() => bridge.dispose())

let counter = 0

describe("protectNode: no thrown value escapes graph.invoke", () => {
  for (const [strategyName, s] of Object.entries(strategies)) {
    describe(`fallback ${strategyName}`, () => {
      for (const [valueName, make] of hostile) {
        for (const kind of kinds) {
          for (const path of ["direct", "guarded"] as const) {
            it(`a ${kind} node throwing ${valueName} (${path}): the ${s.served} answer, a traceback`, async () => {
              const outcomes: Array<Outcome> = []
              const node = protectNode(bridge, failing(kind, make, s.warm), {
                breaker: { name: `hostile-${counter++}`, failureThreshold: 100 },
                fallback: s.fallback,
                ...(path === "guarded" ? { guard: { quarantineOnFailure: ["research"] } } : {}),
                onOutcome: (o) => void outcomes.push(o)
              })
              const graph = oneNode(node)
              if (s.warm) expect((await graph.invoke({ query: "q" })).research).toBe("fresh")
              const out = await graph.invoke({ query: "q" })
              expect(out[FALLBACK_KEY]).toBe(s.served)
              expect(out.research).toBe(s.research)
              expect(typeof out[TRACEBACK_KEY]).toBe("string")
              expect(out[TRACEBACK_KEY]!.length).toBeLessThan(20_000)
              const last = outcomes[outcomes.length - 1]!
              expect(last.outcome).toBe(s.served === "none" ? "failed" : "fallback")
              expect(typeof last.error).toBe("string")
              expect(last.error!.length).toBeLessThan(2_000)
            })
          }
        }
      }
    })
  }

  it("escalation by interrupt pauses the graph for a node throwing a Proxy that throws on every trap", async () => {
    const node = protectNode(bridge, failing("async", () => new Proxy({}, everyTrapThrows), false), {
      breaker: { name: "hostile-interrupt" },
      fallback: { escalate: () => undefined, mode: "interrupt" }
    })
    const graph = oneNode(node, new MemorySaver())
    const config = { configurable: { thread_id: "hostile-interrupt" } }
    await graph.invoke({ query: "q" }, config)
    const pending = (await graph.getState(config)).tasks.flatMap((t) => t.interrupts)
    expect(pending[0]?.value).toMatchObject({ breaker: "hostile-interrupt" })
    expect(typeof (pending[0]?.value as { error?: unknown }).error).toBe("string")
  })
})

describe("protectNode checks its breaker options when it is called (issue 21 point 10)", () => {
  const ok = (_s: S) => ({ research: "ok" })
  it("an empty breaker name throws a ParseError naming `name` when the node is built", () => {
    let thrown: unknown
    try {
      protectNode(bridge, ok, { breaker: { name: "" } })
    } catch (e) {
      thrown = e
    }
    expect((thrown as { _tag?: string })._tag).toBe("ParseError")
    expect(String((thrown as Error).message)).toMatch(/name/)
  })
  it("bad durations and thresholds throw a ParseError naming the option when the node is built", () => {
    expect(() => protectNode(bridge, ok, { breaker: { name: "b1", callTimeout: -1 as any } })).toThrow(/callTimeout/)
    expect(() => protectNode(bridge, ok, { breaker: { name: "b2", failureThreshold: Number.NaN } })).toThrow(
      /failureThreshold/
    )
    expect(() => protectNode(bridge, ok, { breaker: { name: "nul\u0000byte" } })).toThrow(/name/)
  })
  it("good options build a node that answers", async () => {
    const node = protectNode(bridge, ok, { breaker: { name: "good-options", callTimeout: "1 second" } })
    expect((await oneNode(node).invoke({ query: "q" })).research).toBe("ok")
  })
})

describe("a fallback that rejects with a hostile value", () => {
  it("a degrade fallback whose promise rejects with a Proxy that throws on every trap: no fallback answers, nothing escapes", async () => {
    const node = protectNode(bridge, failing("async", () => new Error("down"), false), {
      breaker: { name: "hostile-degrade" },
      fallback: { degrade: () => Promise.reject(new Proxy({}, everyTrapThrows)) }
    })
    const out = await oneNode(node).invoke({ query: "q" })
    expect(out[FALLBACK_KEY]).toBe("none")
    expect(typeof out[TRACEBACK_KEY]).toBe("string")
  })
})
