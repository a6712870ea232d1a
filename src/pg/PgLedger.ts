/**
 * The audit ledger in PostgreSQL, for pipelines running in many processes
 * that should write one ledger.
 *
 * ```ts
 * import { PgLedger } from "agentarmour/pg"
 * const LedgerLive = PgLedger.layer({ url: Redacted.make(process.env.DATABASE_URL!) })
 * ```
 *
 * @since 0.1.0
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as Layer from "effect/Layer"
import * as Ledger from "../Ledger.js"
import * as PgClientLazy from "./internal/pgClient.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends PgClient.PgClientConfig, Ledger.SqlOptions {}

/**
 * A read-write ledger in Postgres: runs its migrations (tables `cb_*` as in
 * the SQLite ledger; ids are `BIGSERIAL`), batches writes in a background
 * fiber, flushes when the layer's scope closes. Fails with a `LedgerError`
 * when the database cannot be reached.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Ledger.Ledger, Ledger.LedgerError> => {
  const { batchSize, queueCapacity, tablePrefix, ...client } = options
  return Ledger.layerSql({ batchSize, queueCapacity, tablePrefix }).pipe(
    Layer.provide(PgClientLazy.layer(client)),
    Layer.mapError((e) =>
      e instanceof Ledger.LedgerError
        ? e
        : new Ledger.LedgerError({ message: `cannot open the Postgres ledger: ${(e as { message?: string }).message ?? String(e)}`, cause: e })
    )
  )
}
