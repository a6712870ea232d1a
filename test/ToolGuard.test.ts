import { describe, expect, it } from "@effect/vitest"
import {
  CascadeGuard,
  CircuitBreaker,
  InvalidToolArgsError,
  InvalidToolResultError,
  Ledger,
  MalformedToolCallError,
  RepeatedToolCallError,
  Telemetry,
  ToolCallLimitError,
  ToolGuard,
  ToolPermissionError,
  UnknownToolError
} from "agentarmour"
import { Effect, Either, Metric, MetricLabel, Schema } from "effect"

const search = { args: Schema.Struct({ query: Schema.String, limit: Schema.optional(Schema.Number) }) }
const remove = { args: Schema.Struct({ path: Schema.String }), permission: "ask" as const }

const make = (options: Partial<ToolGuard.ToolGuardOptions> = {}) =>
  ToolGuard.make({ tools: { search, remove: { ...remove, permission: "deny" } }, ...options })

const outcomes = Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  yield* ledger.flush
  const rows = yield* ledger.toolCalls()
  return rows.map((r) => r.outcome).reverse()
})

const errorOf = <A, E>(self: Effect.Effect<A, E>) => Effect.flip(self)

describe("ToolGuard", () => {
  it.effect("an unknown tool is refused with the valid tools and the nearest name", () =>
    Effect.gen(function*() {
      const guard = yield* make()
      const error = yield* errorOf(guard.check({ id: "c1", name: "serch", args: { query: "x" } }))
      expect(error).toBeInstanceOf(UnknownToolError)
      const e = error as UnknownToolError
      expect(e.suggestion).toBe("search")
      expect(e.available).toEqual(["search", "remove"])
      expect(e.message).toContain("Did you mean \"search\"?")
      expect(e.message).toContain("\"search\", \"remove\"")
      expect(yield* outcomes).toEqual(["unknown_tool"])
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("invalid arguments are refused with the schema's issues by field", () =>
    Effect.gen(function*() {
      const guard = yield* make()
      const error = yield* errorOf(guard.check({ name: "search", args: { query: 1, limit: "ten" } }))
      expect(error).toBeInstanceOf(InvalidToolArgsError)
      const e = error as InvalidToolArgsError
      expect(e.issues.some((i) => i.startsWith("query:"))).toBe(true)
      expect(e.issues.some((i) => i.startsWith("limit:"))).toBe(true)
      expect(e.message).toContain("query:")
      expect(yield* outcomes).toEqual(["invalid_args"])
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("malformed JSON is refused with the parse error and the raw text", () =>
    Effect.gen(function*() {
      const guard = yield* make()
      const raw = "{query: <<nonsense>>"
      const error = yield* errorOf(guard.check({ name: "search", args: raw }))
      expect(error).toBeInstanceOf(MalformedToolCallError)
      expect(error.message).toContain(raw)
      expect(error.message).toMatch(/JSON/)
      expect(yield* outcomes).toEqual(["malformed"])
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("without repair, fixable JSON is refused as malformed", () =>
    Effect.gen(function*() {
      const guard = yield* make({ repair: false })
      const error = yield* errorOf(guard.check({ name: "search", args: "{'query': 'x',}" }))
      expect(error).toBeInstanceOf(MalformedToolCallError)
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("repair: code fences, trailing commas, single quotes, unquoted keys, truncation, \"\" → {}", () =>
    Effect.gen(function*() {
      const guard = yield* ToolGuard.make({
        tools: {
          search,
          list: { args: Schema.Struct({ items: Schema.optional(Schema.Array(Schema.Number)) }) }
        },
        repeats: { max: 100 }
      })
      const cases: ReadonlyArray<[string, unknown]> = [
        ["```json\n{\"query\": \"a\"}\n```", { query: "a" }],
        ["{\"query\": \"b\",}", { query: "b" }],
        ["{'query': 'it\\'s \"c\"'}", { query: "it's \"c\"" }],
        ["{query: \"d\", limit: 2}", { query: "d", limit: 2 }],
        ["{\"query\": \"e", { query: "e" }],
        ["{\"query\": \"f\", \"limit\":", { query: "f" }]
      ]
      for (const [raw, args] of cases) {
        const checked = yield* guard.run({ name: "search", args: raw }, (a) => Effect.succeed(a))
        expect(checked, raw).toEqual(args)
      }
      expect(yield* guard.run({ name: "list", args: "" }, (a) => Effect.succeed(a))).toEqual({})
      expect(yield* guard.run({ name: "list", args: "{\"items\": [1, 2" }, (a) => Effect.succeed(a))).toEqual({
        items: [1, 2]
      })
      expect(yield* guard.run({ name: "search", args: "{\"query\": \"ok\"}" }, (a) => Effect.succeed(a))).toEqual({
        query: "ok"
      })
      const seen = yield* outcomes
      expect(seen.slice(0, 8)).toEqual(Array(8).fill("repaired"))
      expect(seen[8]).toBe("ok")
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("repeats are recognised on canonical arguments and refused after repeats.max", () =>
    Effect.gen(function*() {
      const guard = yield* make({ repeats: { max: 2 } })
      const exec = (a: unknown) => Effect.succeed(a)
      yield* guard.run({ name: "search", args: { query: "x", limit: 1 } }, exec)
      yield* guard.run({ name: "search", args: "{ \"limit\" : 1,\n \"query\":\"x\" }" }, exec)
      const error = yield* errorOf(guard.run({ name: "search", args: { limit: 1, query: "x" } }, exec))
      expect(error).toBeInstanceOf(RepeatedToolCallError)
      expect((error as RepeatedToolCallError).count).toBe(3)
      yield* guard.run({ name: "search", args: { query: "y" } }, exec)
      expect(yield* outcomes).toEqual(["ok", "ok", "repeated", "ok"])
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("caps and repeats count per run (CascadeGuard.withRun) and a new run starts from zero", () =>
    Effect.gen(function*() {
      const guard = yield* ToolGuard.make({
        tools: { search: { ...search, maxCallsPerRun: 2 }, other: search },
        maxCallsPerRun: 3
      })
      const exec = (a: unknown) => Effect.succeed(a)
      const inRun = (runId: string) =>
        Effect.gen(function*() {
          yield* guard.run({ name: "search", args: { query: "1" } }, exec)
          yield* guard.run({ name: "search", args: { query: "2" } }, exec)
          const perTool = yield* errorOf(guard.run({ name: "search", args: { query: "3" } }, exec))
          yield* guard.run({ name: "other", args: { query: "4" } }, exec)
          const perRun = yield* errorOf(guard.run({ name: "other", args: { query: "5" } }, exec))
          return [perTool, perRun]
        }).pipe(CascadeGuard.withRun(runId))
      for (const runId of ["r1", "r2"]) {
        const [perTool, perRun] = yield* inRun(runId)
        expect(perTool).toEqual(new ToolCallLimitError({ tool: "search", limit: 2, scope: "tool" }))
        expect(perRun).toEqual(new ToolCallLimitError({ tool: "other", limit: 3, scope: "run" }))
      }
      const ledger = yield* Ledger.Ledger
      yield* ledger.flush
      const r2 = yield* ledger.toolCalls({ run: "r2" })
      expect(r2.map((r) => r.outcome).reverse()).toEqual(["ok", "ok", "limit", "ok", "limit"])
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("deny refuses; ask goes to approve: approve runs once, edit is validated again, reject refuses", () =>
    Effect.gen(function*() {
      const decisions: Array<ToolGuard.ToolDecision> = [
        { approve: true },
        { edit: { path: "/tmp/safe" } },
        { edit: { path: 42 } },
        { reject: "never delete the home directory" }
      ]
      const asked: Array<unknown> = []
      const guard = yield* ToolGuard.make({
        tools: { search: { ...search, permission: "deny" }, remove },
        approve: (call) => Effect.sync(() => (asked.push(call.args), decisions.shift()!))
      })
      const ran: Array<unknown> = []
      const exec = (a: unknown) => Effect.sync(() => (ran.push(a), "done"))
      const denied = yield* errorOf(guard.run({ name: "search", args: { query: "x" } }, exec))
      expect(denied).toBeInstanceOf(ToolPermissionError)
      expect((denied as ToolPermissionError).decision).toBe("denied")
      yield* guard.run({ name: "remove", args: { path: "/tmp/a" } }, exec)
      yield* guard.run({ name: "remove", args: { path: "/tmp/b" } }, exec)
      const badEdit = yield* errorOf(guard.run({ name: "remove", args: { path: "/tmp/c" } }, exec))
      expect(badEdit).toBeInstanceOf(InvalidToolArgsError)
      const rejected = yield* errorOf(guard.run({ name: "remove", args: { path: "~" } }, exec))
      expect(rejected).toBeInstanceOf(ToolPermissionError)
      expect(rejected.message).toContain("never delete the home directory")
      expect(ran).toEqual([{ path: "/tmp/a" }, { path: "/tmp/safe" }])
      expect(asked).toHaveLength(4)
      expect(yield* outcomes).toEqual(["denied", "approved", "approved", "invalid_args", "rejected"])
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("a decision that is not a ToolDecision ({ approve: false }) does not approve the call", () =>
    Effect.gen(function*() {
      const guard = yield* ToolGuard.make({
        tools: { remove },
        approve: () => Effect.succeed({ approve: false } as unknown as ToolGuard.ToolDecision)
      })
      const ran: Array<unknown> = []
      const error = yield* errorOf(
        guard.run({ name: "remove", args: { path: "/" } }, (a) => Effect.sync(() => ran.push(a)))
      )
      expect(error).toBeInstanceOf(ToolPermissionError)
      expect(ran).toEqual([])
      expect(yield* outcomes).toEqual(["rejected"])
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("ask without an approve callback is refused", () =>
    Effect.gen(function*() {
      const guard = yield* ToolGuard.make({ tools: { remove } })
      const error = yield* errorOf(guard.run({ name: "remove", args: { path: "x" } }, () => Effect.void))
      expect(error).toBeInstanceOf(ToolPermissionError)
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("a tool's breaker tool:<name> opens after failures; then calls fail fast and are recorded open", () =>
    Effect.gen(function*() {
      const guard = yield* ToolGuard.make({
        tools: { search: { ...search, breaker: { failureThreshold: 2 } } },
        repeats: { max: 100 }
      })
      expect(guard.breaker("search")?.name).toBe("tool:search")
      let calls = 0
      const down = () => Effect.suspend(() => (calls++, Effect.fail("API down")))
      yield* errorOf(guard.run({ name: "search", args: { query: "a" } }, down))
      yield* errorOf(guard.run({ name: "search", args: { query: "a" } }, down))
      const open = yield* errorOf(guard.run({ name: "search", args: { query: "a" } }, down))
      expect(open).toBeInstanceOf(CircuitBreaker.CircuitOpenError)
      expect(calls).toBe(2)
      expect(yield* guard.breaker("search")!.state).toBe("OPEN")
      expect(yield* outcomes).toEqual(["failed", "failed", "open"])
      const ledger = yield* Ledger.Ledger
      yield* ledger.flush
      const transitions = yield* ledger.transitions()
      expect(transitions.some((t) => t.breakerName === "tool:search" && t.toState === "OPEN")).toBe(true)
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("a result the result schema refuses is an InvalidToolResultError", () =>
    Effect.gen(function*() {
      const guard = yield* ToolGuard.make({ tools: { search: { ...search, result: Schema.Array(Schema.String) } } })
      const error = yield* errorOf(guard.run({ name: "search", args: { query: "a" } }, () => Effect.succeed([1])))
      expect(error).toBeInstanceOf(InvalidToolResultError)
      expect(yield* guard.run({ name: "search", args: { query: "b" } }, () => Effect.succeed(["ok"]))).toEqual(["ok"])
      expect(yield* outcomes).toEqual(["invalid_result", "ok"])
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("each decision counts in agentarmour_tool_calls_total{tool,outcome}", () =>
    Effect.gen(function*() {
      const guard = yield* ToolGuard.make({ tools: { metered: search } })
      const counter = ToolGuard_metric("metered", "unknown_tool")
      const before = (yield* Metric.value(counter)).count
      yield* errorOf(guard.check({ name: "meterd", args: {} }))
      const after = (yield* Metric.value(counter)).count
      expect(after - before).toBe(0)
      const ok = ToolGuard_metric("metered", "ok")
      const okBefore = (yield* Metric.value(ok)).count
      yield* guard.run({ name: "metered", args: { query: "x" } }, () => Effect.void)
      expect((yield* Metric.value(ok)).count - okBefore).toBe(1)
      const unknown = ToolGuard_metric("meterd", "unknown_tool")
      expect((yield* Metric.value(unknown)).count).toBe(1)
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("bad options are a ParseError naming the option", () =>
    Effect.gen(function*() {
      const bad = [
        [{ tools: { search }, maxCallsPerRun: 0 }, "maxCallsPerRun"],
        [{ tools: { search }, repeats: { max: -1 } }, "repeats"],
        [{ tools: { search: { args: "not a schema" } } }, "args"],
        [{ tools: { search: { ...search, permission: "maybe" } } }, "permission"],
        [{ tools: { search }, repair: "yes" }, "repair"],
        [{ tools: { search }, approve: 1 }, "approve"]
      ] as const
      for (const [options, field] of bad) {
        const result = yield* Effect.either(ToolGuard.make(options as any))
        expect(Either.isLeft(result), field).toBe(true)
        if (Either.isLeft(result)) {
          expect(result.left._tag).toBe("ParseError")
          expect(result.left.message).toContain(field)
        }
      }
    }).pipe(Effect.provide(Ledger.layerNoop)))
})

const ToolGuard_metric = (tool: string, outcome: string) =>
  Metric.taggedWithLabels(Telemetry.toolCalls, [
    MetricLabel.make("tool", tool),
    MetricLabel.make("outcome", outcome)
  ])
