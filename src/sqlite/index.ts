/**
 * SQLite ledger: `agentarmour/sqlite`.
 *
 * @since 0.1.0
 */
export * as SqliteLedger from "./SqliteLedger.js"
