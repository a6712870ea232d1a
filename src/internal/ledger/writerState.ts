/**
 * The state of an SQL ledger's writer, with one owner: a `LedgerWriter`
 * holds the database link and the writer fiber's phase (each a tagged
 * state, as effect's `RcMap` holds its `Open | Closed` state), the write
 * queue, the call counters and the accounting. Its methods are the
 * synchronous transitions; the effects that drive them are in `writer.ts`
 * and `reopen.ts`.
 *
 * Every record is recorded once and ends written or dropped, exactly once:
 * at every moment `recorded = written + dropped + pending`.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"

import { countCall } from "./callCounters.js"
import type { CallCounter } from "./callCounters.js"
import type { Connection, Connector } from "./connection.js"
import { Deque } from "./deque.js"
import type { Item } from "./items.js"
import type { DecodedOptions } from "./options.js"
import type { LedgerStats } from "./records.js"
import type { Tables } from "./tables.js"

/** the database, as the writer sees it */
export type Link = LinkOpen | LinkUnavailable

/** open: batches are written to `connection` */
export interface LinkOpen {
  readonly _tag: "Open"
  readonly connection: Connection
}

/**
 * not open: the first attempt is running (`why` is `null`), it failed
 * (degraded mode: reopened in the background), or the file was lost
 */
export interface LinkUnavailable {
  readonly _tag: "Unavailable"
  readonly why: string | null
}

/** what the writer fiber is doing */
export type Phase = PhaseRunning | PhaseIdle | PhaseWriting

/** taking the next batch (or about to) */
export interface PhaseRunning {
  readonly _tag: "Running"
}

/** waiting for records: `wake` is completed by the next one */
export interface PhaseIdle {
  readonly _tag: "Idle"
  readonly wake: Deferred.Deferred<void>
}

/** writing `batch` (or counting it dropped) */
export interface PhaseWriting {
  readonly _tag: "Writing"
  readonly batch: Batch
}

/** records taken from the queue together, and the call counters taken with them */
export interface Batch {
  readonly items: Array<Item>
  readonly counters: Array<CallCounter>
  /** the number of counter changes it covers */
  readonly callSeq: number
  /** written or counted dropped already (a batch is settled once) */
  settled: boolean
}

/** a `flush` waiting until `target` records and `callTarget` counter changes are settled */
export interface Waiter {
  readonly target: number
  readonly callTarget: number
  readonly done: Deferred.Deferred<boolean>
}

const running: PhaseRunning = { _tag: "Running" }

/** the state of one SQL ledger's writer */
export class LedgerWriter {
  /** the database */
  link: Link = { _tag: "Unavailable", why: null }
  /** the last write error while the database is open; `null` while writes succeed */
  writeError: string | null = null
  /** writes are failing: logged once when it starts, once when they recover */
  failing = false

  /** the writer fiber (replaced when the flush deadline abandons a stuck one) */
  fiber: Fiber.RuntimeFiber<never> | undefined = undefined
  phase: Phase = running
  /** partial batches put off in a row to let a burst fill them */
  coalesced = 0

  /** records offered and not yet taken by the writer */
  readonly queue = new Deque<Item>()
  /** per-breaker, per-minute call counters not yet taken by the writer */
  counters = new Map<string, CallCounter>()
  /** completed when a counter changes, for the ticker waiting while there are none */
  dirty: Deferred.Deferred<void> | undefined = undefined
  /** counter changes so far, and how many of them are written or dropped */
  callSeq = 0
  callSettled = 0

  recorded = 0
  written = 0
  dropped = 0
  /** how many times records were counted dropped (the log says so on the 1st and every 100th) */
  dropWarnings = 0
  waiters: Array<Waiter> = []

  constructor(
    readonly options: DecodedOptions,
    readonly tables: Tables,
    readonly connector: Connector,
    /** the layer's scope: the writer's fibers and connections live in it */
    readonly scope: Scope.Scope
  ) {}

  /** the open connection, `undefined` while the database is not open */
  get connection(): Connection | undefined {
    return this.link._tag === "Open" ? this.link.connection : undefined
  }

  /** the last write or open error, `null` when healthy */
  get lastError(): string | null {
    return this.link._tag === "Open" ? this.writeError : this.link.why
  }

  /** the batch being written, if any */
  get inFlight(): Batch | undefined {
    return this.phase._tag === "Writing" ? this.phase.batch : undefined
  }

  get stats(): LedgerStats {
    return {
      recorded: this.recorded,
      written: this.written,
      dropped: this.dropped,
      pending: this.recorded - this.written - this.dropped,
      lastError: this.lastError
    }
  }

  /** the database is open (again): writes go to `connection` */
  opened(connection: Connection): void {
    this.link = { _tag: "Open", connection }
    this.writeError = null
  }

  /** the database is not open, because of `why` */
  unavailable(why: string): void {
    this.link = { _tag: "Unavailable", why }
  }

  /** wakes the writer fiber if it waits for records */
  wake(): void {
    if (this.phase._tag === "Idle") {
      const wake = this.phase.wake
      this.phase = running
      Deferred.unsafeDone(wake, Exit.void)
    }
  }

  /** the writer fiber waits for records: the returned Deferred completes at the next one */
  idle(): Deferred.Deferred<void> {
    const wake = Deferred.unsafeMake<void>(FiberId.none)
    this.phase = { _tag: "Idle", wake }
    return wake
  }

  writing(batch: Batch): void {
    this.phase = { _tag: "Writing", batch }
  }

  /** marks `batch` settled; `false` when it already was */
  settled(batch: Batch): boolean {
    if (batch.settled) return false
    batch.settled = true
    if (this.phase._tag === "Writing" && this.phase.batch === batch) this.phase = running
    if (batch.callSeq > this.callSettled) this.callSettled = batch.callSeq
    return true
  }

  /** completes the flushes whose records are all written or dropped */
  settleWaiters(): void {
    if (this.waiters.length === 0) return
    const done = this.written + this.dropped
    const callSettled = this.callSettled
    const ready = this.waiters.filter((w) => w.target <= done && w.callTarget <= callSettled)
    if (ready.length === 0) return
    this.waiters = this.waiters.filter((w) => !(w.target <= done && w.callTarget <= callSettled))
    for (const w of ready) Deferred.unsafeDone(w.done, Exit.succeed(true))
  }

  /** queues a record and wakes the writer; `true` when the queue overflowed and its oldest record went */
  push(item: Item): boolean {
    this.recorded++
    this.queue.push(item)
    this.wake()
    if (this.queue.length > this.options.queueCapacity) {
      this.queue.shift()
      return true
    }
    return false
  }

  /** adds one call or fallback to its minute's counters */
  addCounter(breakerName: string, at: Date, add: (c: CallCounter) => void): void {
    this.callSeq++
    if (this.dirty !== undefined) {
      const dirty = this.dirty
      this.dirty = undefined
      Deferred.unsafeDone(dirty, Exit.void)
    }
    countCall(this.counters, breakerName, at, add)
  }

  /** the ticker waits for a counter change: the returned Deferred completes at the next one */
  clean(): Deferred.Deferred<void> {
    const dirty = Deferred.unsafeMake<void>(FiberId.none)
    this.dirty = dirty
    return dirty
  }

  /** the next batch (at most `batchSize` records and every counter), `undefined` when there is nothing to write */
  takeBatch(): Batch | undefined {
    const items = this.queue.take(this.options.batchSize)
    const counters = this.takeCounters()
    if (items.length === 0 && counters.length === 0) return undefined
    return { items, counters, callSeq: this.callSeq, settled: false }
  }

  /** everything queued, as one batch (the flush deadline passed) */
  takeAll(): Batch {
    const items = this.queue.take(this.queue.length)
    const counters = Array.from(this.counters.values())
    this.counters = new Map()
    return { items, counters, callSeq: this.callSeq, settled: false }
  }

  private takeCounters(): Array<CallCounter> {
    if (this.counters.size === 0) return []
    const list = Array.from(this.counters.values())
    this.counters = new Map()
    return list
  }
}
