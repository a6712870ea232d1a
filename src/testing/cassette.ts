/**
 * `AgentMock.cassette(model, { file })`: record a chat model's calls once,
 * replay them afterwards. Each call is keyed by a hash of the model's name
 * and parameters, the messages (without the ids that change from run to
 * run) and the bound tools' names and schemas; calls with equal keys replay
 * in recorded order per (`thread_id`, node), so parallel `Send` branches
 * replay whatever the order they run in.
 *
 * @since 0.3.0
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"

import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager"
import type { BaseLanguageModelInput } from "@langchain/core/language_models/base"
import { BaseChatModel, type BindToolsInput } from "@langchain/core/language_models/chat_models"
import {
  AIMessage,
  AIMessageChunk,
  type BaseMessage,
  type StandardMessageStructure,
  ToolMessage
} from "@langchain/core/messages"
import type { ChatResult } from "@langchain/core/outputs"
import type { Runnable } from "@langchain/core/runnables"
import * as Effect from "effect/Effect"

import * as Clock from "./internal/clock.js"
import { canonical, differences, redact, toData } from "./internal/json.js"
import { toolSpecs } from "./internal/tools.js"
import type { MockCallOptions } from "./MockChatModel.js"

/**
 * - `replay` (default): recorded calls replay; a call not recorded goes to the model and is not recorded
 * - `record`: every call goes to the model; the file is rewritten with them
 * - `record-missing`: recorded calls replay; the others go to the model and are added
 * - `lockdown` (CI): recorded calls replay; any other call fails with `CassetteMissError`
 * - `live`: the cassette is ignored
 *
 * The environment variable `AGENTARMOUR_CASSETTE` overrides the option.
 *
 * @since 0.3.0
 * @category models
 */
export type CassetteMode = "replay" | "record" | "record-missing" | "lockdown" | "live"

const MODES: ReadonlyArray<CassetteMode> = ["replay", "record", "record-missing", "lockdown", "live"]

/**
 * @since 0.3.0
 * @category models
 */
export interface CassetteOptions {
  /**
   * the JSON file the calls are recorded in
   *
   * @since 0.3.0
   */
  readonly file: string
  readonly mode?: CassetteMode
  /** dot paths (`*` for any key or index) left out of the file, e.g. `"request.messages.*.content"` */
  readonly redact?: ReadonlyArray<string>
}

/**
 * The version of the cassette file format.
 *
 * @since 0.3.0
 * @category constants
 */
export const CASSETTE_VERSION = 1

/**
 * A call the cassette has not recorded (in `lockdown`), naming the nearest
 * recorded call and how it differs.
 *
 * @since 0.3.0
 * @category errors
 */
export class CassetteMissError extends Error {
  /** @since 0.3.0 */
  override readonly name = "CassetteMissError"
  constructor(
    message: string,
    /** @since 0.3.0 */
    readonly file: string,
    readonly nearest: number | undefined,
    readonly differences: ReadonlyArray<string>
  ) {
    super(message)
  }
}

interface Request {
  readonly model: unknown
  readonly messages: unknown
  readonly tools: unknown
  readonly tool_choice?: unknown
}

interface Entry {
  readonly key: string
  readonly thread: string
  readonly node: string
  readonly request: Request
  response: Record<string, unknown> | undefined
}

interface File {
  readonly version: number
  readonly entries: ReadonlyArray<Entry>
}

/** a message as the key sees it: no ids, no metadata that changes from run to run */
const messageData = (m: BaseMessage): unknown => {
  const base: Record<string, unknown> = { type: m.getType(), content: m.content }
  if (m.name !== undefined) base["name"] = m.name
  if (AIMessage.isInstance(m) || AIMessageChunk.isInstance(m)) {
    if ((m.tool_calls ?? []).length > 0) base["tool_calls"] = m.tool_calls!.map((c) => ({ name: c.name, args: c.args }))
    if ((m.invalid_tool_calls ?? []).length > 0) {
      base["invalid_tool_calls"] = m.invalid_tool_calls!.map((c) => ({ name: c.name, args: c.args }))
    }
  }
  if (ToolMessage.isInstance(m) && m.status !== undefined) base["status"] = m.status
  return toData(base)
}

const modelData = (model: BaseChatModel): unknown => {
  let params: unknown = {}
  try {
    params = model._identifyingParams()
  } catch {
    // a model without identifying params: its type alone
  }
  return toData({ type: model._llmType(), params })
}

const responseData = (message: BaseMessage): Record<string, unknown> => {
  const ai = AIMessage.isInstance(message) || AIMessageChunk.isInstance(message) ? message : undefined
  return toData({
    content: message.content,
    tool_calls: ai?.tool_calls ?? [],
    invalid_tool_calls: ai?.invalid_tool_calls ?? [],
    usage_metadata: ai?.usage_metadata,
    response_metadata: message.response_metadata,
    additional_kwargs: message.additional_kwargs,
    name: message.name
  }) as Record<string, unknown>
}

const toMessage = (response: Record<string, unknown>): AIMessage =>
  new AIMessage<StandardMessageStructure>(response as ConstructorParameters<typeof AIMessage>[0] & object)

const scopeOf = (): { readonly thread: string; readonly node: string } => {
  const config = Clock.currentConfig()
  const thread = config?.configurable?.["thread_id"]
  const node = config?.metadata?.["langgraph_node"]
  return { thread: thread === undefined ? "" : String(thread), node: node === undefined ? "" : String(node) }
}

const modeOf = (option: CassetteMode | undefined): CassetteMode => {
  const env = process.env["AGENTARMOUR_CASSETTE"]
  if (env !== undefined && env !== "") {
    if (!(MODES as ReadonlyArray<string>).includes(env)) {
      throw new TypeError(`AGENTARMOUR_CASSETTE: expected one of ${MODES.join(", ")}, got ${JSON.stringify(env)}`)
    }
    return env as CassetteMode
  }
  if (option !== undefined && !MODES.includes(option)) {
    throw new TypeError(`cassette mode: expected one of ${MODES.join(", ")}, got ${JSON.stringify(option)}`)
  }
  return option ?? "replay"
}

const where = (e: { readonly thread: string; readonly node: string }) =>
  `thread ${JSON.stringify(e.thread)}, node ${JSON.stringify(e.node)}`

/**
 * A chat model that records the calls of `inner` in a file and replays them.
 *
 * @since 0.3.0
 * @category models
 */
export class CassetteChatModel extends BaseChatModel<MockCallOptions, AIMessageChunk<StandardMessageStructure>> {
  /** @since 0.3.0 */
  readonly inner: BaseChatModel
  /** @since 0.3.0 */
  readonly file: string
  /** @internal */
  readonly #mode: CassetteMode
  /** @internal */
  readonly #redact: ReadonlyArray<ReadonlyArray<string>>
  /** @internal */
  #entries: Array<Entry> | undefined
  /** @internal */
  readonly #used = new Set<Entry>()
  /** @internal */
  #calls = 0

  constructor(inner: BaseChatModel, options: CassetteOptions) {
    super({})
    if (typeof options?.file !== "string" || options.file === "") {
      throw new TypeError("cassette: `file` must be the path of the cassette's JSON file")
    }
    this.inner = inner
    this.file = options.file
    this.#mode = modeOf(options.mode)
    this.#redact = (options.redact ?? []).map((p) => p.split("."))
  }

  /** @since 0.3.0 */
  static override lc_name(): string {
    return "AgentMockCassette"
  }

  /** @since 0.3.0 */
  override _llmType(): string {
    // called by BaseChatModel's constructor, before `inner` is set
    return this.inner === undefined ? "agentmock-cassette" : this.inner._llmType()
  }

  /** @since 0.3.0 */
  override _identifyingParams(): Record<string, unknown> {
    return this.inner === undefined ? {} : this.inner._identifyingParams()
  }

  /**
   * the mode in force (the option, or `AGENTARMOUR_CASSETTE`)
   *
   * @since 0.3.0
   */
  get mode(): CassetteMode {
    return this.#mode
  }

  /** @since 0.3.0 */
  override bindTools(
    tools: Array<BindToolsInput>,
    kwargs?: Partial<MockCallOptions>
  ): Runnable<BaseLanguageModelInput, AIMessageChunk<StandardMessageStructure>, MockCallOptions> {
    return this.withConfig({ ...kwargs, tools })
  }

  /** @internal */
  #load(): Array<Entry> {
    if (this.#entries !== undefined) return this.#entries
    if (this.#mode === "record" || !existsSync(this.file)) return (this.#entries = [])
    const file = JSON.parse(readFileSync(this.file, "utf8")) as File
    if (file?.version !== CASSETTE_VERSION || !Array.isArray(file.entries)) {
      throw new TypeError(
        `cassette ${this.file}: version ${JSON.stringify(file?.version)} is not ${CASSETTE_VERSION}; record it again ` +
          `(AGENTARMOUR_CASSETTE=record)`
      )
    }
    return (this.#entries = [...file.entries])
  }

  /** @internal */
  #save(): void {
    const entries = this.#load().filter((e) => e.response !== undefined).map((e) => {
      const data = JSON.parse(JSON.stringify(e)) as Entry
      for (const path of this.#redact) redact(data, path)
      return data
    })
    mkdirSync(dirname(this.file), { recursive: true })
    writeFileSync(this.file, JSON.stringify({ version: CASSETTE_VERSION, entries }, null, 2) + "\n")
  }

  /**
   * the next unused recorded call with this key: same (thread, node) first, in recorded order
   *
   * @internal
   */
  #find(key: string, scope: { readonly thread: string; readonly node: string }): Entry | undefined {
    const candidates = this.#load().filter((e) => e.key === key && e.response !== undefined && !this.#used.has(e))
    return candidates.find((e) => e.thread === scope.thread && e.node === scope.node) ??
      candidates.find((e) => e.node === scope.node) ??
      candidates[0]
  }

  /** @internal */
  #miss(number: number, request: Request, key: string, scope: { readonly thread: string; readonly node: string }) {
    const entries = this.#load().filter((e) => e.response !== undefined)
    const head = `AgentMock cassette ${this.file}: call ${number} (${where(scope)}) was not recorded`
    if (entries.length === 0) {
      return new CassetteMissError(
        `${head}; the cassette has no recorded calls (record them with AGENTARMOUR_CASSETTE=record-missing)`,
        this.file,
        undefined,
        []
      )
    }
    const same = entries.filter((e) => e.key === key).length
    if (same > 0) {
      return new CassetteMissError(
        `${head}: the ${same} recorded call(s) with this request were all replayed already`,
        this.file,
        entries.findIndex((e) => e.key === key),
        []
      )
    }
    const ranked = entries.map((e, index) => ({
      index,
      entry: e,
      diff: differences(e.request, toData(request)),
      sameScope: e.node === scope.node ? 0 : 1
    })).sort((a, b) => a.diff.length - b.diff.length || a.sameScope - b.sameScope || a.index - b.index)
    const nearest = ranked[0]!
    const shown = nearest.diff.slice(0, 5).join("; ") +
      (nearest.diff.length > 5 ? `; and ${nearest.diff.length - 5} more` : "")
    return new CassetteMissError(
      `${head}. The nearest recorded call is #${nearest.index + 1} (${where(nearest.entry)}); it differs in: ${shown}`,
      this.file,
      nearest.index,
      nearest.diff
    )
  }

  /** @internal */
  async #live(messages: Array<BaseMessage>, options: this["ParsedCallOptions"]): Promise<BaseMessage> {
    const tools = options.tools ?? []
    let runnable: Runnable<BaseLanguageModelInput, BaseMessage> = this.inner
    if (tools.length > 0) {
      if (typeof this.inner.bindTools !== "function") {
        throw new TypeError(`cassette ${this.file}: the recorded model has no bindTools`)
      }
      runnable = this.inner.bindTools(
        [...tools],
        options.tool_choice === undefined ? {} : {
          tool_choice: options.tool_choice
        }
      )
    }
    return runnable.invoke(messages, {
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.stop === undefined ? {} : { stop: options.stop })
    })
  }

  /** @since 0.3.0 */
  override async _generate(
    messages: Array<BaseMessage>,
    options: this["ParsedCallOptions"],
    _runManager?: CallbackManagerForLLMRun
  ): Promise<ChatResult> {
    const number = ++this.#calls
    const message = await this.#answer(number, messages, options)
    const text = typeof message.content === "string" ? message.content : ""
    return {
      generations: [{ text, message: AIMessage.isInstance(message) ? message : toMessage(responseData(message)) }]
    }
  }

  /** @internal */
  async #answer(
    number: number,
    messages: Array<BaseMessage>,
    options: this["ParsedCallOptions"]
  ): Promise<BaseMessage> {
    if (this.#mode === "live") return this.#live(messages, options)
    const request: Request = {
      model: modelData(this.inner),
      messages: messages.map(messageData),
      tools: toData(toolSpecs(options.tools)),
      ...(options.tool_choice === undefined ? {} : { tool_choice: toData(options.tool_choice) })
    }
    const key = createHash("sha256").update(canonical(request)).digest("hex")
    const scope = scopeOf()
    if (this.#mode !== "record") {
      const hit = this.#find(key, scope)
      if (hit !== undefined) {
        this.#used.add(hit)
        return toMessage(hit.response!)
      }
      if (this.#mode === "lockdown") throw this.#miss(number, request, key, scope)
      if (this.#mode === "replay") {
        Effect.runSync(Effect.logWarning(`${this.#miss(number, request, key, scope).message}; calling the model`))
        return this.#live(messages, options)
      }
    }
    // record, record-missing: the call goes to the model; its place in the file is taken now (call order)
    const entry: Entry = { key, ...scope, request: toData(request) as Request, response: undefined }
    const entries = this.#load()
    entries.push(entry)
    try {
      const message = await this.#live(messages, options)
      entry.response = responseData(message)
      this.#used.add(entry)
      this.#save()
      return message
    } catch (e) {
      entries.splice(entries.indexOf(entry), 1)
      throw e
    }
  }
}

/**
 * Wraps `model` in a cassette.
 *
 * @since 0.3.0
 * @category constructors
 */
export const cassette = (model: BaseChatModel, options: CassetteOptions): CassetteChatModel =>
  new CassetteChatModel(model, options)
