/**
 * agentarmour: keep multi-agent LangGraph pipelines running when one agent fails.
 *
 * Each module is a namespace: `import { CircuitBreaker, Fallback } from "agentarmour"`.
 * This entry point loads `effect` only.
 *
 * @since 0.1.0
 */
export {
  /**
   * The decoded options of a breaker, defaults applied.
   *
   * @since 0.1.0
   */
  BreakerConfig,
  /**
   * A breaker's name: 1 to 200 characters without NUL or other control characters.
   *
   * @since 0.2.1
   */
  BreakerName,
  /**
   * Whether a string can name a breaker (`BreakerName`).
   *
   * @since 0.2.1
   */
  isBreakerName
} from "./BreakerConfig.js"
export type {
  /**
   * The options `CircuitBreaker.make` accepts.
   *
   * @since 0.1.0
   */
  BreakerOptions
} from "./BreakerConfig.js"
/**
 * @since 0.1.0
 */
export * as BreakerRegistry from "./BreakerRegistry.js"
/**
 * @since 0.2.0
 */
export * as Budget from "./Budget.js"
export {
  /**
   * A call refused because its budget is spent.
   *
   * @since 0.2.0
   */
  BudgetExceededError,
  /**
   * Runs an effect within a budget.
   *
   * @since 0.2.0
   */
  withBudget
} from "./Budget.js"
/**
 * @since 0.1.0
 */
export * as CascadeGuard from "./CascadeGuard.js"
/**
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"
export {
  /**
   * A call refused because the breaker's bulkhead is full.
   *
   * @since 0.2.0
   */
  BulkheadFullError,
  /**
   * A call that ran longer than the breaker's `callTimeout` (and was interrupted).
   *
   * @since 0.1.0
   */
  CallTimeoutError,
  /**
   * A call refused because an operator isolated the breaker.
   *
   * @since 0.2.0
   */
  CircuitIsolatedError,
  /**
   * A call rejected because the breaker is OPEN.
   *
   * @since 0.1.0
   */
  CircuitOpenError,
  /**
   * A call whose result the breaker's `validateResult` rejected.
   *
   * @since 0.2.0
   */
  InvalidResultError,
  /**
   * Runs an effect through a breaker.
   *
   * @since 0.1.0
   */
  withBreaker
} from "./CircuitBreaker.js"
/**
 * @since 0.1.0
 */
export * as Fallback from "./Fallback.js"
export {
  /**
   * A `decompose` fallback that could not answer.
   *
   * @since 0.1.0
   */
  DecomposeError,
  /**
   * An `escalate` fallback that got no answer.
   *
   * @since 0.1.0
   */
  EscalatedError
} from "./Fallback.js"
/**
 * @since 0.1.0
 */
export * as Ledger from "./Ledger.js"
export {
  /**
   * The ledger could not be opened or read.
   *
   * @since 0.1.0
   */
  LedgerError
} from "./Ledger.js"
/**
 * Breaker state shared across processes: the seam, the engine over any
 * store, a store in memory (Postgres: `agentarmour/pg`).
 *
 * @since 0.3.0
 */
export * as SharedState from "./SharedState.js"
/**
 * @since 0.2.0
 */
export * as Telemetry from "./Telemetry.js"
/**
 * @since 0.3.0
 */
export * as ToolGuard from "./ToolGuard.js"
export {
  /**
   * The arguments do not match the tool's schema.
   *
   * @since 0.3.0
   */
  InvalidToolArgsError,
  /**
   * The tool returned something its `result` schema refuses.
   *
   * @since 0.3.0
   */
  InvalidToolResultError,
  /**
   * The arguments are not valid JSON, even after repair.
   *
   * @since 0.3.0
   */
  MalformedToolCallError,
  /**
   * The same call was made too many times in this run.
   *
   * @since 0.3.0
   */
  RepeatedToolCallError,
  /**
   * A per-run cap is reached.
   *
   * @since 0.3.0
   */
  ToolCallLimitError,
  /**
   * The call is denied, or a reviewer rejected it.
   *
   * @since 0.3.0
   */
  ToolPermissionError,
  /**
   * The model called a tool that does not exist.
   *
   * @since 0.3.0
   */
  UnknownToolError
} from "./ToolGuard.js"
export type {
  /**
   * Any refusal of ToolGuard.
   *
   * @since 0.3.0
   */
  ToolCallError,
  /**
   * A reviewer's answer to an `ask`.
   *
   * @since 0.3.0
   */
  ToolDecision
} from "./ToolGuard.js"
