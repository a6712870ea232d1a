/**
 * Postgres: the ledger for many processes (`PgLedger`) and breaker state
 * shared across them (`SharedState`): `agentarmour/pg`.
 *
 * `@effect/sql-pg` is an optional peer dependency of agentarmour: importing
 * this entry point without it throws an Error that names it.
 *
 * @since 0.1.0
 */
import { requirePeer } from "../internal/peer.js"

requirePeer("@effect/sql-pg", "agentarmour/pg")

export * as PgLedger from "./PgLedger.js"
export * as SharedState from "./SharedState.js"
