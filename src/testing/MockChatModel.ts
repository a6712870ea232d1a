/**
 * `AgentMock.model(steps)`: a scripted `BaseChatModel`. Each call answers
 * the next step with a real `AIMessage` (tool call ids, `invalid_tool_calls`,
 * `usage_metadata`, `response_metadata.model_name`), records what it was
 * asked, and throws when the script has run out.
 *
 * @since 0.3.0
 */
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager"
import type { BaseLanguageModelInput } from "@langchain/core/language_models/base"
import {
  BaseChatModel,
  type BaseChatModelCallOptions,
  type BindToolsInput
} from "@langchain/core/language_models/chat_models"
import {
  AIMessage,
  AIMessageChunk,
  type BaseMessage,
  type InvalidToolCall,
  type StandardMessageStructure,
  type ToolCall,
  type ToolCallChunk,
  type UsageMetadata
} from "@langchain/core/messages"
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs"
import type { Runnable } from "@langchain/core/runnables"

import * as Clock from "./internal/clock.js"
import { providerError } from "./internal/providerErrors.js"
import { type ToolSpec, toolSpecs } from "./internal/tools.js"
import { type DecodedStep, decodeSteps, type Step } from "./Step.js"

/**
 * What one call of the model was asked.
 *
 * @since 0.3.0
 * @category models
 */
export interface Call {
  /** 1-based */
  readonly number: number
  readonly messages: ReadonlyArray<BaseMessage>
  /** the tools bound with `bindTools`, as `{ name, description, parameters }` */
  readonly tools: ReadonlyArray<ToolSpec>
  readonly toolChoice: unknown
}

/**
 * The call options of a mock (and cassette) model: LangChain's, plus the
 * tools `bindTools` binds.
 *
 * @since 0.3.0
 * @category models
 */
export interface MockCallOptions extends BaseChatModelCallOptions {
  readonly tools?: ReadonlyArray<BindToolsInput>
}

/**
 * Thrown by a scripted model called past its script, and by `assertConsumed`.
 *
 * @since 0.3.0
 * @category errors
 */
export class ScriptError extends Error {
  /** @since 0.3.0 */
  override readonly name = "AgentMockScriptError"
}

const describeContent = (content: unknown): string => {
  const text = typeof content === "string" ? content : JSON.stringify(content)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

const describeMessage = (m: BaseMessage): string => {
  const calls = AIMessage.isInstance(m) && m.tool_calls !== undefined && m.tool_calls.length > 0
    ? ` [calls ${m.tool_calls.map((c) => c.name).join(", ")}]`
    : ""
  return `${m.getType()}: ${JSON.stringify(describeContent(m.content))}${calls}`
}

/** a rough token count (4 characters a token), for steps that give no usage */
const estimateTokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4))

const contentLength = (messages: ReadonlyArray<BaseMessage>): string =>
  messages.map((m) => typeof m.content === "string" ? m.content : JSON.stringify(m.content)).join("\n")

const describeStep = (step: DecodedStep): string => JSON.stringify(step, (_, v) => v instanceof Error ? v.message : v)

interface Script {
  readonly steps: ReadonlyArray<DecodedStep>
  readonly calls: Array<Call>
}

/**
 * A scripted chat model: `bindTools`, `invoke`, `stream` (with
 * `tool_call_chunks`), `batch`. Bound copies share the script and the calls.
 *
 * @since 0.3.0
 * @category models
 */
export class MockChatModel extends BaseChatModel<MockCallOptions, AIMessageChunk<StandardMessageStructure>> {
  /**
   * the model name in `response_metadata.model_name` (default `"agentmock"`)
   *
   * @since 0.3.0
   */
  readonly modelName: string
  /** @internal */
  readonly #script: Script

  constructor(steps: ReadonlyArray<Step>, options?: { readonly name?: string }) {
    super({})
    this.modelName = options?.name ?? "agentmock"
    this.#script = { steps: decodeSteps(steps), calls: [] }
  }

  /** @since 0.3.0 */
  static override lc_name(): string {
    return "AgentMockChatModel"
  }

  /** @since 0.3.0 */
  override _llmType(): string {
    return "agentmock"
  }

  /** @since 0.3.0 */
  override _identifyingParams(): Record<string, unknown> {
    return { model_name: this.modelName }
  }

  /**
   * the messages and bound tools of each call so far
   *
   * @since 0.3.0
   */
  get calls(): ReadonlyArray<Call> {
    return this.#script.calls
  }

  /**
   * steps not answered yet
   *
   * @since 0.3.0
   */
  get remaining(): number {
    return Math.max(0, this.#script.steps.length - this.#script.calls.length)
  }

  /**
   * throws when steps are left: the test expected more calls than the graph made
   *
   * @since 0.3.0
   */
  assertConsumed(): void {
    const left = this.remaining
    if (left === 0) return
    const next = this.#script.steps.slice(this.#script.calls.length).map(describeStep)
    throw new ScriptError(
      `AgentMock model "${this.modelName}": ${left} of ${this.#script.steps.length} steps were not used ` +
        `(${this.#script.calls.length} calls made); next unused: ${next.slice(0, 3).join(", ")}`
    )
  }

  /** @since 0.3.0 */
  override bindTools(
    tools: Array<BindToolsInput>,
    kwargs?: Partial<MockCallOptions>
  ): Runnable<BaseLanguageModelInput, AIMessageChunk<StandardMessageStructure>, MockCallOptions> {
    return this.withConfig({ ...kwargs, tools })
  }

  /**
   * records the call and answers its step, after the step's latency on Effect's Clock
   *
   * @internal
   */
  async #next(messages: Array<BaseMessage>, options: this["ParsedCallOptions"]): Promise<Reply> {
    const runtime = Clock.currentRuntime()
    const script = this.#script
    const number = script.calls.length + 1
    script.calls.push({
      number,
      messages: [...messages],
      tools: toolSpecs(options.tools),
      toolChoice: options.tool_choice
    })
    const step = script.steps[number - 1]
    if (step === undefined) {
      const last = messages.slice(-3).map(describeMessage).join("; ")
      throw new ScriptError(
        `AgentMock model "${this.modelName}": call ${number} has no scripted step (the script has ` +
          `${script.steps.length}). Last messages: ${last || "(none)"}`
      )
    }
    if (step.latency !== undefined) await Clock.sleep(runtime, step.latency, options.signal)
    if ("fail" in step) {
      throw typeof step.fail === "string" ? providerError(step.fail, this.modelName) : step.fail
    }
    return this.#answer(step, number, messages)
  }

  /** @internal */
  #answer(
    step: Exclude<DecodedStep, { readonly fail: unknown }>,
    number: number,
    messages: Array<BaseMessage>
  ): Reply {
    const callId = (i: number, id: string | undefined) => id ?? `call_${this.modelName}_${number}_${i}`
    const tool_calls: Array<ToolCall> = (step.toolCalls ?? []).map((c, i) => ({
      type: "tool_call",
      name: c.name,
      args: c.args as Record<string, unknown>,
      id: callId(i, c.id)
    }))
    const offset = tool_calls.length
    const invalid_tool_calls: Array<InvalidToolCall> = (step.invalidToolCalls ?? []).map((c, i) => ({
      type: "invalid_tool_call",
      ...(c.name === undefined ? {} : { name: c.name }),
      args: c.args,
      id: callId(offset + i, c.id),
      error: c.error ?? "Malformed args."
    }))
    const text = step.text ?? ""
    const usage = step.usage ?? {
      input: estimateTokens(contentLength(messages)),
      output: estimateTokens(text + JSON.stringify(step.toolCalls ?? []) + JSON.stringify(step.invalidToolCalls ?? []))
    }
    const usage_metadata: UsageMetadata = {
      input_tokens: usage.input,
      output_tokens: usage.output,
      total_tokens: usage.input + usage.output
    }
    return {
      content: text,
      tool_calls,
      invalid_tool_calls,
      usage_metadata,
      response_metadata: { model_name: step.model ?? this.modelName, finish_reason: finishReason(tool_calls) }
    }
  }

  /** @since 0.3.0 */
  override async _generate(
    messages: Array<BaseMessage>,
    options: this["ParsedCallOptions"],
    _runManager?: CallbackManagerForLLMRun
  ): Promise<ChatResult> {
    const reply = await this.#next(messages, options)
    return { generations: [{ text: reply.content, message: new AIMessage<StandardMessageStructure>(reply) }] }
  }

  /** @since 0.3.0 */
  override async *_streamResponseChunks(
    messages: Array<BaseMessage>,
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun
  ): AsyncGenerator<ChatGenerationChunk> {
    const answer = await this.#next(messages, options)
    for (const chunk of toChunks(answer)) {
      if (options.signal?.aborted) return
      const text = typeof chunk.content === "string" ? chunk.content : ""
      const generation = new ChatGenerationChunk({ message: chunk, text })
      yield generation
      await runManager?.handleLLMNewToken(text, undefined, undefined, undefined, undefined, { chunk: generation })
    }
  }
}

/** what a step answers, before it becomes an `AIMessage` or chunks */
interface Reply {
  readonly content: string
  readonly tool_calls: Array<ToolCall>
  readonly invalid_tool_calls: Array<InvalidToolCall>
  readonly usage_metadata: UsageMetadata
  readonly response_metadata: Record<string, unknown>
}

const finishReason = (calls: ReadonlyArray<ToolCall>): string => calls.length > 0 ? "tool_calls" : "stop"

/** the text word by word, one `tool_call_chunk` per call (invalid ones with their raw text), usage last */
const toChunks = (reply: Reply): ReadonlyArray<AIMessageChunk> => {
  const words = reply.content.match(/\S+\s*|\s+/g) ?? []
  const chunks: Array<AIMessageChunk> = words.map((content) => new AIMessageChunk({ content }))
  const calls: Array<ToolCallChunk> = [
    ...reply.tool_calls.map((c) => ({ name: c.name, args: JSON.stringify(c.args), id: c.id })),
    ...reply.invalid_tool_calls.map((c) => ({ name: c.name, args: c.args ?? "", id: c.id }))
  ].map((c, index) => ({
    type: "tool_call_chunk",
    args: c.args,
    index,
    ...(c.name === undefined ? {} : { name: c.name }),
    ...(c.id === undefined ? {} : { id: c.id })
  }))
  for (const call of calls) chunks.push(new AIMessageChunk({ content: "", tool_call_chunks: [call] }))
  chunks.push(
    new AIMessageChunk<StandardMessageStructure>({
      content: "",
      usage_metadata: reply.usage_metadata,
      response_metadata: reply.response_metadata
    })
  )
  return chunks
}
