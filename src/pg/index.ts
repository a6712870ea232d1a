/**
 * Postgres ledger: `agentarmour/pg`.
 *
 * @since 0.1.0
 */
export * as PgLedger from "./PgLedger.js"
