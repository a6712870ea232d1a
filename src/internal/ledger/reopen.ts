/**
 * Degraded mode: a database that cannot be opened never fails the ledger.
 * The first attempt is made when the layer is built; after a failure, or
 * when the file under the ledger is deleted or replaced, opening is retried
 * in the background on `reopenSchedule` while records are counted dropped.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

import { lostWhy, openConnection } from "./connection.js"
import type { Connection } from "./connection.js"
import type { LedgerWriter } from "./writerState.js"

const open = (w: LedgerWriter): Effect.Effect<Connection, string> =>
  openConnection(w.connector, w.options.prefix, w.scope)

/** retries opening on `reopenSchedule`, in a fiber of the layer's scope */
export const reopenInBackground = (w: LedgerWriter): Effect.Effect<void> =>
  Effect.asVoid(Effect.forkIn(
    open(w).pipe(
      Effect.tapError((why) => Effect.sync(() => w.unavailable(why))),
      Effect.retry(w.options.reopenSchedule),
      Effect.flatMap((conn) =>
        Effect.zipRight(
          Effect.sync(() => w.opened(conn)),
          Effect.logInfo(`agentarmour ledger: ${w.connector.target} is open again; writing resumes`)
        )
      ),
      Effect.ignore
    ),
    w.scope
  ))

/** the first attempt, when the layer is built: open, or degraded (one warning) and retried in the background */
export const openFirst = (w: LedgerWriter): Effect.Effect<void> =>
  Effect.matchEffect(open(w), {
    onSuccess: (conn) => Effect.sync(() => w.opened(conn)),
    onFailure: (why) =>
      Effect.zipRight(
        Effect.zipRight(
          Effect.sync(() => w.unavailable(why)),
          Effect.logWarning(
            `agentarmour ledger: cannot open ${w.connector.target}: ${why}. Running degraded: records are counted ` +
              `as dropped (Ledger.stats) and opening is retried in the background.`
          )
        ),
        reopenInBackground(w)
      )
  })

/** drops a lost connection and opens the path again (in the background while it fails) */
export const reopenLost = (w: LedgerWriter, conn: Connection): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (w.connection !== conn) return Effect.void
    const why = lostWhy(w.connector)
    w.unavailable(why)
    return Effect.zipRight(
      Effect.zipRight(conn.close, Effect.logWarning(`agentarmour ledger: ${why}`)),
      Effect.matchEffect(open(w), {
        onFailure: (why) => Effect.zipRight(Effect.sync(() => w.unavailable(why)), reopenInBackground(w)),
        onSuccess: (fresh) => Effect.sync(() => w.opened(fresh))
      })
    )
  })
