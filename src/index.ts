/**
 * agentarmour: keep multi-agent LangGraph pipelines running when one agent fails.
 *
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"
export * as Ledger from "./Ledger.js"
export { CallTimeoutError, CircuitOpenError } from "./CircuitBreaker.js"
export { LedgerError } from "./Ledger.js"
