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

export {
  /**
   * Records a chat model's calls in a file once and replays them.
   *
   * @since 0.3.0
   */
  cassette,
  /**
   * @since 0.3.0
   */
  CASSETTE_VERSION,
  /**
   * @since 0.3.0
   */
  CassetteChatModel,
  /**
   * @since 0.3.0
   */
  CassetteMissError,
  /**
   * @since 0.3.0
   */
  type CassetteMode,
  /**
   * @since 0.3.0
   */
  type CassetteOptions
} from "./cassette.js"
export {
  /**
   * @since 0.3.0
   */
  type Fault,
  /**
   * A node whose n-th call does the n-th fault; after the list, the real node.
   *
   * @since 0.3.0
   */
  faulty,
  /**
   * @since 0.3.0
   */
  type FaultyNode,
  /**
   * @since 0.3.0
   */
  InjectedFault
} from "./faulty.js"
export {
  /**
   * The nodes a thread ran, in order, from the checkpointer's history.
   *
   * @since 0.3.0
   */
  type GraphWithHistory,
  /**
   * @since 0.3.0
   */
  nodePath
} from "./nodePath.js"
export {
  /**
   * @since 0.3.0
   */
  type ArgsMatch,
  /**
   * @since 0.3.0
   */
  type ExpectedCall,
  /**
   * Checks an agent's tool calls against those expected.
   *
   * @since 0.3.0
   */
  expectTrajectory,
  /**
   * @since 0.3.0
   */
  TrajectoryMismatchError,
  /**
   * @since 0.3.0
   */
  type TrajectoryMode
} from "./trajectory.js"
