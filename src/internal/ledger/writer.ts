/**
 * The SQL ledger's writer: records are offered to a bounded queue and
 * written in batches (one transaction each) by a background fiber, retried
 * on `writeRetry`, counted dropped when they cannot be written; `flush`
 * waits for them for at most a deadline, after which what is still pending
 * is counted dropped and a stuck writer is replaced. Its state is one
 * `LedgerWriter` (`writerState.ts`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"

import { writeBatch } from "./batchWrite.js"
import { isLost, lostWhy } from "./connection.js"
import type { Connection } from "./connection.js"
import { describeCause } from "./describeCause.js"
import type { Item } from "./items.js"
import { droppedRecords, writeErrors } from "./metrics.js"
import { reopenLost } from "./reopen.js"
import type { Batch, LedgerWriter } from "./writerState.js"

/** how a batch ended */
type Outcome = { readonly ok: true } | { readonly ok: false; readonly why: string }

/** counts `n` records dropped (the metric, and a warning on the 1st time and every 100th) */
const countDropped = (w: LedgerWriter, n: number, why: string): Effect.Effect<void> => {
  if (n <= 0) return Effect.void
  w.dropped += n
  w.dropWarnings++
  return Effect.zipRight(
    Metric.incrementBy(droppedRecords, n),
    w.dropWarnings === 1 || w.dropWarnings % 100 === 0
      ? Effect.logWarning(
        `agentarmour ledger (${w.connector.target}): ${n} records dropped (${w.dropped} so far): ${why}`
      )
      : Effect.void
  )
}

/** counts a batch written or dropped, once, and completes the flushes it was the last for */
const settle = (w: LedgerWriter, batch: Batch, outcome: Outcome): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!w.settled(batch)) return Effect.void
    const effect = outcome.ok
      ? Effect.sync(() => {
        w.written += batch.items.length
      })
      : countDropped(w, batch.items.length, outcome.why)
    return Effect.zipRight(effect, Effect.sync(() => w.settleWaiters()))
  })

/** queues a record; when the queue is full its oldest record is counted dropped */
export const offer = (w: LedgerWriter, item: Item): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!w.push(item)) return Effect.void
    return Effect.zipRight(
      countDropped(w, 1, `write queue full (${w.options.queueCapacity}), the oldest record went`),
      Effect.sync(() => w.settleWaiters())
    )
  })

/** a failed write: counted, logged once until writes recover; a transaction SQLite left open is rolled back */
const writeFailed = (w: LedgerWriter, conn: Connection, batch: Batch, error: unknown): Effect.Effect<void> =>
  Effect.gen(function*() {
    const why = describeCause(Cause.fail(error))
    w.writeError = why
    yield* Metric.increment(writeErrors)
    // a transaction left open by a failed COMMIT/ROLLBACK would block every later batch
    if (conn.dialect === "sqlite") {
      yield* Effect.ignore(Effect.catchAllDefect(conn.sql`ROLLBACK`, () => Effect.void))
    }
    if (!w.failing) {
      w.failing = true
      yield* Effect.logWarning(
        `agentarmour ledger (${w.connector.target}): writing ${batch.items.length} records failed, retrying: ${why}`
      )
    }
  })

/** a write went through: writes recovered if they were failing */
const writeSucceeded = (w: LedgerWriter): Effect.Effect<void> =>
  w.failing
    ? Effect.zipRight(
      Effect.logInfo(`agentarmour ledger (${w.connector.target}): writes recovered`),
      Effect.sync(() => {
        w.failing = false
        w.writeError = null
      })
    )
    : Effect.void

/** writes one batch with retries; defects (a failed ROLLBACK, a driver crash) are retried and counted like errors */
const attemptWrite = (w: LedgerWriter, conn: Connection, batch: Batch): Effect.Effect<void> =>
  writeBatch(w.tables, conn, batch).pipe(
    Effect.catchAllDefect((defect) => Effect.fail(defect)),
    Effect.tapError((error) => writeFailed(w, conn, batch, error)),
    Effect.retry(w.options.writeRetry),
    Effect.matchEffect({
      onFailure: (error) =>
        settle(w, batch, { ok: false, why: `write failed after retries: ${describeCause(Cause.fail(error))}` }),
      onSuccess: () =>
        isLost(w.connector, conn)
          ? settle(w, batch, { ok: false, why: lostWhy(w.connector) })
          : Effect.zipRight(writeSucceeded(w), settle(w, batch, { ok: true }))
    })
  )

const notOpen = (w: LedgerWriter, batch: Batch): Effect.Effect<void> =>
  settle(w, batch, { ok: false, why: `the database is not open (${w.lastError ?? "opening"})` })

/** writes a batch taken from the queue, or counts it dropped when the database is not open */
const writeTaken = (w: LedgerWriter, batch: Batch): Effect.Effect<void> => {
  w.writing(batch)
  const conn = w.connection
  if (conn === undefined) return notOpen(w, batch)
  if (isLost(w.connector, conn)) {
    // reopen at the path before writing; what was written to the lost file after the
    // last check was settled as dropped by that write's own check
    return Effect.zipRight(
      reopenLost(w, conn),
      Effect.suspend(() => {
        const fresh = w.connection
        return fresh === undefined ? notOpen(w, batch) : attemptWrite(w, fresh, batch)
      })
    )
  }
  return Effect.zipRight(
    attemptWrite(w, conn, batch),
    Effect.suspend(() => (isLost(w.connector, conn) ? reopenLost(w, conn) : Effect.void))
  )
}

/** one turn of the writer fiber: put off a partial batch, write the next batch, or wait for records */
const writerStep = (w: LedgerWriter): Effect.Effect<void> => {
  // a busy producer fills the queue between two yields of its fiber: let it run a few more
  // times before taking a partial batch, so a burst is written in few transactions
  const queued = w.queue.length
  if (queued > 0 && queued < w.options.batchSize && w.coalesced < 8) {
    w.coalesced++
    return Effect.flatMap(Effect.yieldNow(), () =>
      Effect.sync(() => {
        // nothing arrived meanwhile: no burst, write what is there now
        if (w.queue.length === queued) w.coalesced = 8
      }))
  }
  w.coalesced = 0
  const batch = w.takeBatch()
  if (batch !== undefined) return writeTaken(w, batch)
  if (w.callSettled < w.callSeq) w.callSettled = w.callSeq
  w.settleWaiters()
  return Deferred.await(w.idle())
}

/** forks the writer fiber in the layer's scope */
export const startWriter = (w: LedgerWriter): Effect.Effect<void> =>
  Effect.map(
    Effect.forkIn(Effect.forever(Effect.suspend(() => writerStep(w))), w.scope),
    (fiber) => {
      w.fiber = fiber
    }
  )

/**
 * Forks the ticker: the per-minute call counters reach the database about a
 * second after they change (it sleeps only while there are counters to
 * write, so an idle ledger arms no timer).
 */
export const startTicker = (w: LedgerWriter): Effect.Effect<void> =>
  Effect.asVoid(Effect.forkIn(
    Effect.forever(Effect.suspend(() => {
      if (w.counters.size === 0) return Deferred.await(w.clean())
      return Effect.zipRight(Effect.sleep("1 second"), Effect.sync(() => w.wake()))
    })),
    w.scope
  ))

/** the flush deadline passed: everything still pending is counted dropped, the writer starts afresh */
const abandon = (w: LedgerWriter): Effect.Effect<number> =>
  Effect.gen(function*() {
    const old = w.fiber
    const batch = w.inFlight
    const queued = w.takeAll()
    const why = `not written within flushTimeout ${Duration.format(w.options.flushTimeout)}`
    if (batch !== undefined) yield* settle(w, batch, { ok: false, why })
    yield* settle(w, queued, { ok: false, why })
    // the old writer may be stuck in the database: interrupt it without waiting for it
    if (old !== undefined) yield* Fiber.interruptFork(old)
    yield* startWriter(w)
    return (batch?.items.length ?? 0) + queued.items.length
  })

/**
 * Waits until everything offered so far is written or dropped, for at most
 * `deadline`; past it, what is still pending is abandoned (counted dropped)
 * unless `abandonAtDeadline` is false. Returns how many records it abandoned.
 */
export const flushFor = (
  w: LedgerWriter,
  deadline: Duration.Duration,
  abandonAtDeadline = true
): Effect.Effect<number> =>
  Effect.suspend(() => {
    const target = w.recorded
    const callTarget = w.callSeq
    if (w.written + w.dropped >= target && w.callSettled >= callTarget) return Effect.succeed(0)
    const done = Deferred.unsafeMake<boolean>(FiberId.none)
    w.waiters.push({ target, callTarget, done })
    w.wake()
    return Effect.gen(function*() {
      // a timer fiber completes the same Deferred: no interruption is needed, so this
      // returns in time even inside an uninterruptible finalizer
      const timer = yield* Effect.forkDaemon(
        Effect.interruptible(Effect.zipRight(Effect.sleep(deadline), Deferred.succeed(done, false)))
      )
      const ok = yield* Deferred.await(done)
      yield* Fiber.interruptFork(timer)
      if (ok) return 0
      w.waiters = w.waiters.filter((waiter) => waiter.done !== done)
      return abandonAtDeadline ? yield* abandon(w) : 0
    })
  })
