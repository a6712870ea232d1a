/**
 * Postgres: the ledger for many processes (`PgLedger`) and breaker state
 * shared across them (`SharedState`): `agentarmour/pg`.
 *
 * @since 0.1.0
 */
export * as PgLedger from "./PgLedger.js"
export * as SharedState from "./SharedState.js"
