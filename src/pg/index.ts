/**
 * Postgres: the ledger for many processes (`PgLedger`), breaker state
 * shared across them (`SharedState`) and per-window budgets shared across
 * them (`PgBudgetStore`): `agentarmour/pg`.
 *
 * `@effect/sql-pg` is an optional peer dependency of agentarmour: importing
 * this entry point without it throws an Error that names it.
 *
 * @since 0.1.0
 */
import { requirePeer } from "../internal/peer.js"

requirePeer("@effect/sql-pg", "agentarmour/pg")

/**
 * @since 0.2.0
 */
export * as PgBudgetStore from "./PgBudgetStore.js"
/**
 * @since 0.1.0
 */
export * as PgLedger from "./PgLedger.js"
/**
 * @since 0.1.0
 */
export * as SharedState from "./SharedState.js"
