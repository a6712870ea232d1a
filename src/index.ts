/**
 * agentarmour: keep multi-agent LangGraph pipelines running when one agent fails.
 *
 * Each module is a namespace: `import { CircuitBreaker, Fallback } from "agentarmour"`.
 * This entry point loads `effect` only.
 *
 * @since 0.1.0
 */
export { BreakerConfig } from "./BreakerConfig.js"
export type { BreakerOptions } from "./BreakerConfig.js"
export * as BreakerRegistry from "./BreakerRegistry.js"
export * as CascadeGuard from "./CascadeGuard.js"
export * as CircuitBreaker from "./CircuitBreaker.js"
export * as Fallback from "./Fallback.js"
export * as Ledger from "./Ledger.js"
export * as Telemetry from "./Telemetry.js"
export {
  BulkheadFullError,
  CallTimeoutError,
  CircuitIsolatedError,
  CircuitOpenError,
  InvalidResultError,
  withBreaker
} from "./CircuitBreaker.js"
export { DecomposeError, EscalatedError } from "./Fallback.js"
export { LedgerError } from "./Ledger.js"
