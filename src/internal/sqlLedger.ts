// placeholder: replaced by the SQL ledger work (issue 6)
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { SqlClient } from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { Ledger, SqlOptions } from "../Ledger.js"

export const make = (_options: SqlOptions): Effect.Effect<Ledger, SqlError, SqlClient | Scope.Scope> =>
  Effect.dieMessage("Ledger.layerSql is not implemented yet")
