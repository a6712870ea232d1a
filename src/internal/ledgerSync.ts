/**
 * A ledger whose `recordCall` only adds to counters in memory (the memory
 * ledger, the SQL ledgers until their writer runs) also offers it as a plain
 * function, so that the breaker records a call without an Effect step
 * (docs/performance.md, "CLOSED, callTimeout null"). The plain function
 * hangs on the `recordCall` function itself: a ledger made by spreading
 * another and replacing `recordCall` has its own `recordCall` called.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

import type { CallRecord } from "./ledger/records.js"
import type { Ledger } from "./ledger/service.js"

const UnsafeRecordCall: unique symbol = Symbol.for("agentarmour/Ledger/unsafeRecordCall")

type RecordCall = Ledger["recordCall"] & { readonly [UnsafeRecordCall]?: (record: CallRecord) => void }

/** the synchronous recorder behind a ledger's `recordCall`, if it has one */
export const syncRecordCallOf = (ledger: Ledger): ((record: CallRecord) => void) | undefined =>
  (ledger.recordCall as RecordCall)[UnsafeRecordCall]

/** `recordCall` from a synchronous recorder (which it carries) */
export const recordCallMembers = (record: (call: CallRecord) => void): Pick<Ledger, "recordCall"> => {
  const recordCall = (call: CallRecord) => Effect.sync(() => record(call))
  return { recordCall: Object.assign(recordCall, { [UnsafeRecordCall]: record }) }
}
