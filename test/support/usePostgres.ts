/** The vitest fixture over `startPostgres` (kept apart so that benches can start a server without vitest). */
import { afterAll, beforeAll } from "vitest"

import { type PgServer, startPostgres } from "./postgres.js"

/**
 * One PostgreSQL server for the tests of a file: started before them, stopped
 * and removed after them. Read `pg.server` inside a test or hook.
 */
export const usePostgres = (): { readonly server: PgServer } => {
  const handle: { server: PgServer } = { server: undefined as unknown as PgServer }
  beforeAll(async () => {
    handle.server = await startPostgres()
  }, 120_000)
  afterAll(async () => {
    await handle.server?.stop()
  })
  return handle
}
