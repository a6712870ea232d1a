/**
 * AgentMock: deterministic tests for agent graphs — scripted models,
 * hallucination fixtures, cassettes, fault schedules, trajectory assertions,
 * the path a thread took; latency and faults on Effect's `Clock`.
 *
 * @since 0.3.0
 */
import { MockChatModel } from "./MockChatModel.js"
import type { Step } from "./Step.js"

export {
  /**
   * @since 0.3.0
   */
  type Call,
  /**
   * @since 0.3.0
   */
  type MockCallOptions,
  /**
   * @since 0.3.0
   */
  MockChatModel,
  /**
   * @since 0.3.0
   */
  ScriptError
} from "./MockChatModel.js"
export type {
  /**
   * @since 0.3.0
   */
  Answer,
  /**
   * @since 0.3.0
   */
  Failure,
  /**
   * @since 0.3.0
   */
  InvalidToolCall,
  /**
   * @since 0.3.0
   */
  Step,
  /**
   * @since 0.3.0
   */
  ToolCall
} from "./Step.js"

/**
 * A scripted chat model: the n-th call answers the n-th step. A bad step is
 * a ParseError naming its index and field.
 *
 * @since 0.3.0
 * @category constructors
 */
export const model = (steps: ReadonlyArray<Step>, options?: { readonly name?: string }): MockChatModel =>
  new MockChatModel(steps, options)

/**
 * Steps that produce each ToolGuard failure.
 *
 * @since 0.3.0
 */
export * as hallucinate from "./hallucinate.js"
