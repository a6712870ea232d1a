/**
 * A bad `tablePrefix` fails every constructor that takes one the same way:
 * a typed `LedgerError` naming `tablePrefix` (never a defect), before any
 * table is touched (issue 24, point 2).
 */
import { join } from "node:path"

import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import { Ledger } from "agentarmour"
import { PgBudgetStore, PgLedger, SharedState } from "agentarmour/pg"
import { SqliteLedger } from "agentarmour/sqlite"
import { Cause, Effect, Layer, Option } from "effect"

import { tempDir } from "./support/tmp.js"

const bad = "drop table;"

/** runs `self`, expecting a failure (not a defect) that names `tablePrefix` */
const expectPrefixFailure = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const cause = yield* Effect.flip(Effect.sandbox(self))
    expect(Cause.isDie(cause)).toBe(false)
    const error = Option.getOrThrow(Cause.failureOption(cause)) as { readonly _tag: string; readonly message: string }
    expect(error._tag).toBe("LedgerError")
    expect(error.message).toContain("tablePrefix")
    expect(error.message).toContain(JSON.stringify(bad))
  })

const build = <A, E, R>(layer: Layer.Layer<A, E, R>) => Effect.scoped(Layer.build(layer))

const sqliteMemory = SqliteClient.layer({ filename: ":memory:" })

/** a Postgres nobody listens on: a bad prefix must fail before connecting */
const nowhere = { host: "127.0.0.1", port: 1, connectTimeout: "200 millis" } as const

describe("a bad tablePrefix is a LedgerError naming tablePrefix, in every module", () => {
  it.effect("Ledger.layerSql", () =>
    expectPrefixFailure(build(Ledger.layerSql({ tablePrefix: bad })).pipe(Effect.provide(sqliteMemory))))

  it.effect("Ledger.pruneSql", () =>
    expectPrefixFailure(Ledger.pruneSql({ olderThan: "30 days", tablePrefix: bad }).pipe(Effect.provide(sqliteMemory))))

  it.live("SqliteLedger.layer", () =>
    expectPrefixFailure(build(SqliteLedger.layer({ filename: join(tempDir("prefix-"), "l.db"), tablePrefix: bad }))))

  it.live("SqliteLedger.layerReadonly", () =>
    Effect.gen(function*() {
      const filename = join(tempDir("prefix-"), "l.db")
      yield* build(SqliteLedger.layer({ filename }))
      yield* expectPrefixFailure(build(SqliteLedger.layerReadonly({ filename, tablePrefix: bad })))
    }))

  it.live("SqliteLedger.prune", () =>
    Effect.gen(function*() {
      const filename = join(tempDir("prefix-"), "l.db")
      yield* build(SqliteLedger.layer({ filename }))
      yield* expectPrefixFailure(SqliteLedger.prune({ filename, olderThan: "30d", tablePrefix: bad }))
    }))

  it.live("PgLedger.layer", () => expectPrefixFailure(build(PgLedger.layer({ ...nowhere, tablePrefix: bad }))))

  it.effect("SharedState.layerSql", () =>
    expectPrefixFailure(build(SharedState.layerSql({ tablePrefix: bad })).pipe(Effect.provide(sqliteMemory))))

  it.live("SharedState.layer", () => expectPrefixFailure(build(SharedState.layer({ ...nowhere, tablePrefix: bad }))))

  it.effect("PgBudgetStore.make and layerSql", () =>
    Effect.gen(function*() {
      yield* expectPrefixFailure(
        Effect.scoped(PgBudgetStore.make({ tablePrefix: bad })).pipe(Effect.provide(sqliteMemory))
      )
      yield* expectPrefixFailure(build(PgBudgetStore.layerSql({ tablePrefix: bad })).pipe(Effect.provide(sqliteMemory)))
    }))

  it.live("PgBudgetStore.layer", () =>
    expectPrefixFailure(build(PgBudgetStore.layer({ ...nowhere, tablePrefix: bad }))))

  it.effect("a good prefix is accepted: SharedState.layerSql and PgBudgetStore.layerSql build on SQLite", () =>
    Effect.gen(function*() {
      yield* build(SharedState.layerSql({ tablePrefix: "ok_" }))
      yield* build(PgBudgetStore.layerSql({ tablePrefix: "ok_" }))
    }).pipe(Effect.provide(sqliteMemory)))
})
