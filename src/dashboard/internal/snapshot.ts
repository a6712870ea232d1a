/**
 * What the page shows, computed once per tick by one producer fiber and
 * shared by every client: the SSE stream, `/api/summary` and `/api/stats`
 * all read the newest frame instead of the database.
 *
 * A tick first reads a cheap change token (the newest failure, transition,
 * fallback and tool call, the call statistics of the last few minutes, the current minute);
 * only when it differs from the last one does it read the summary and the
 * recent rows, rebuild the charts and publish a new frame. Call statistics are
 * kept in memory for the longest chart range (7 days) and refreshed by
 * reading only their last minutes.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

import * as Ledger from "../../Ledger.js"
import * as Tools from "./tools.js"

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/**
 * The chart ranges and the bucket each one is drawn with, so that a range
 * has between 15 and 168 points: 15 min and 1 h by minute, 24 h by quarter
 * hour, 7 days by hour.
 *
 * @since 0.2.0
 */
export const RANGES = {
  "15m": { millis: 15 * MINUTE, bucket: MINUTE },
  "1h": { millis: HOUR, bucket: MINUTE },
  "24h": { millis: DAY, bucket: 15 * MINUTE },
  "7d": { millis: 7 * DAY, bucket: HOUR }
} as const

/**
 * A chart range: `15m`, `1h`, `24h` or `7d`
 *
 * @since 0.2.0
 */
export type Range = keyof typeof RANGES

/**
 * The range names, in the order the page offers them
 *
 * @since 0.2.0
 */
export const RANGE_NAMES = Object.keys(RANGES) as ReadonlyArray<Range>

/**
 * One breaker's counts per bucket
 *
 * @since 0.2.0
 */
export interface Series {
  readonly breaker: string
  /** calls that ran */
  readonly calls: ReadonlyArray<number>
  /** calls that failed or timed out */
  readonly failures: ReadonlyArray<number>
  /** calls refused without running */
  readonly rejections: ReadonlyArray<number>
}

/**
 * Call statistics bucketed for one range
 *
 * @since 0.2.0
 */
export interface Chart {
  readonly range: Range
  readonly bucketSeconds: number
  /** start of each bucket, in seconds since the epoch (UTC) */
  readonly times: ReadonlyArray<number>
  readonly series: ReadonlyArray<Series>
}

/**
 * Buckets per-minute statistics for a range ending at `now`: the last bucket
 * is the one `now` falls in.
 *
 * @since 0.2.0
 */
export const bucketize = (rows: Iterable<Ledger.CallStats>, range: Range, now: number, breaker?: string): Chart => {
  const { bucket, millis } = RANGES[range]
  const n = millis / bucket
  const last = Math.floor(now / bucket) * bucket
  const start = last - (n - 1) * bucket
  const times = Array.from({ length: n }, (_, i) => (start + i * bucket) / 1000)
  const byBreaker = new Map<string, { calls: Array<number>; failures: Array<number>; rejections: Array<number> }>()
  for (const row of rows) {
    if (breaker !== undefined && row.breakerName !== breaker) continue
    const index = Math.floor((row.minute.getTime() - start) / bucket)
    if (index < 0 || index >= n) continue
    let s = byBreaker.get(row.breakerName)
    if (s === undefined) {
      const zeros = () => new Array<number>(n).fill(0)
      byBreaker.set(row.breakerName, s = { calls: zeros(), failures: zeros(), rejections: zeros() })
    }
    s.calls[index]! += row.calls
    // timeouts are failed calls too; the statistics keep them apart
    s.failures[index]! += row.failures + row.timeouts
    s.rejections[index]! += row.rejections
  }
  const series = Array.from(byBreaker, ([name, s]) => ({ breaker: name, ...s }))
    .sort((a, b) => (a.breaker < b.breaker ? -1 : a.breaker > b.breaker ? 1 : 0))
  return { range, bucketSeconds: bucket / 1000, times, series }
}

/**
 * What the page shows, pushed on `/events` (times are ISO-8601 UTC strings
 * once encoded as JSON).
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly generatedAt: Date
  /** every breaker the ledger knows, sorted by name (the page gives each one colour in this order) */
  readonly breakers: ReadonlyArray<string>
  readonly summary: ReadonlyArray<Ledger.BreakerSummary>
  readonly failures: ReadonlyArray<Ledger.FailureRecord>
  readonly transitions: ReadonlyArray<Ledger.TransitionRecord>
  readonly charts: { readonly [R in Range]: Chart }
  /** ToolGuard's decisions of the last 24 hours per tool and outcome, most refusals first (0.3) */
  readonly tools: ReadonlyArray<Tools.ToolSummary>
}

/**
 * One published state: a snapshot or the error that prevented it, already encoded for every reader
 *
 * @since 0.2.0
 */
export type Frame =
  | {
    readonly _tag: "Snapshot"
    readonly snapshot: Snapshot
    /** the SSE event, encoded once for every client */
    readonly event: Uint8Array
    /** the body of `/api/summary` */
    readonly summaryJson: string
  }
  | { readonly _tag: "Error"; readonly message: string; readonly event: Uint8Array }

/**
 * The shared producer of frames
 *
 * @since 0.2.0
 */
export interface Producer {
  /** the newest frame, waiting for the first one */
  readonly latest: Effect.Effect<Frame>
  /**
   * Calls `listener` with the newest frame's SSE bytes now and with every new
   * frame's, synchronously, until the returned function is called. This is
   * the SSE hot path: a client costs one entry in a set, not a stream of
   * fibers (200 clients connecting at once stalled other requests for seconds
   * with a stream per client; "Dashboard under load" in `docs/performance.md`).
   */
  readonly unsafeSubscribe: (listener: (event: Uint8Array) => void) => () => void
  /** the newest frame, read synchronously (`undefined` before the first) */
  readonly unsafeCurrent: () => Frame | undefined
}

const encoder = new TextEncoder()
const sse = (event: string, data: string) => encoder.encode(`event: ${event}\ndata: ${data}\n\n`)

const newest = <A extends { readonly createdAt: Date }>(rows: ReadonlyArray<A>) =>
  rows.length === 0 ? null : [rows[0]!.createdAt.getTime(), JSON.stringify(rows[0])]

/**
 * Recent failures and transitions in a snapshot: a first screen's worth. Every
 * client receives the snapshot, so its size is paid per client
 * (`/api/failures` and `/api/transitions` give up to 1,000).
 */
const RECENT_ROWS = 25
/** how many minutes of statistics each tick re-reads: the writer may still update them */
const RECENT_MINUTES = 5
/**
 * The summary is the one heavy read (grouped over every failure): it is read
 * again at once when a breaker changes state, else at most this often.
 */
const SUMMARY_EVERY = 5_000
/** how often all 7 days are read again, for minutes written late (a writer that was down, another process) */
const FULL_RELOAD = 10 * MINUTE

/**
 * Starts the producer in the current scope: one fiber reads the ledger every
 * `pollInterval` and publishes a frame when something changed.
 *
 * @since 0.2.0
 */
export const make = (options: { readonly pollInterval: Duration.Duration }): Effect.Effect<
  Producer,
  never,
  Ledger.Ledger | Scope.Scope
> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    // the newest frame and the SSE clients: written by the producer fiber (in Effect.sync) and read
    // synchronously by the request handlers on the same thread, so a reader never sees half a frame
    const listeners = new Set<(event: Uint8Array) => void>()
    let current: Frame | undefined
    const publish = (frame: Frame) =>
      Effect.sync(() => {
        current = frame
        for (const listener of listeners) listener(frame.event)
      })
    const first = yield* Deferred.make<void>()
    // owned by the producer fiber alone (each tick runs after the previous one)
    const stats = new Map<string, Ledger.CallStats>()
    let statsLoadedAt = -Infinity
    let token = ""
    let summaryToken = ""
    let summaryAt = -Infinity
    let summaryStale = false
    let summary: ReadonlyArray<Ledger.BreakerSummary> = []

    const readStats = (now: number) =>
      Effect.gen(function*() {
        const minute = Math.floor(now / MINUTE) * MINUTE
        const oldest = Math.floor((now - RANGES["7d"].millis) / HOUR) * HOUR
        const full = now - statsLoadedAt >= FULL_RELOAD
        const since = full ? oldest : minute - RECENT_MINUTES * MINUTE
        const rows = yield* ledger.callStats({ since: new Date(since) })
        yield* Effect.sync(() => {
          if (full) stats.clear()
          for (const [key, row] of stats) if (row.minute.getTime() < oldest) stats.delete(key)
          for (const row of rows) stats.set(`${row.minute.getTime()}\u0000${row.breakerName}`, row)
          if (full) statsLoadedAt = now
        })
        // the token compares the recent minutes only: a full reload happens with a new minute anyway
        return full ? rows.filter((r) => r.minute.getTime() >= minute - RECENT_MINUTES * MINUTE) : rows
      })

    const tick = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const [recentStats, lastFailure, lastTransition, lastFallback, lastToolCall] = yield* Effect.all([
        readStats(now),
        ledger.failures({ limit: 1 }),
        ledger.transitions({ limit: 1 }),
        ledger.fallbacks({ limit: 1 }),
        ledger.toolCalls({ limit: 1 })
      ])
      const next = JSON.stringify([
        Math.floor(now / MINUTE),
        newest(lastFailure),
        newest(lastTransition),
        newest(lastFallback),
        newest(lastToolCall),
        recentStats
      ])
      const summaryDue = summaryStale && now - summaryAt >= SUMMARY_EVERY
      if (next === token && !summaryDue) return
      // a new transition (or minute) changes states and "since": read at once; other changes wait a little
      const nextSummaryToken = JSON.stringify([Math.floor(now / MINUTE), newest(lastTransition)])
      if (nextSummaryToken !== summaryToken || now - summaryAt >= SUMMARY_EVERY) {
        summary = yield* ledger.summary
        summaryToken = nextSummaryToken
        summaryAt = now
        summaryStale = false
      } else {
        summaryStale = true
      }
      const [failures, transitions, toolCalls] = yield* Effect.all([
        ledger.failures({ limit: RECENT_ROWS }),
        ledger.transitions({ limit: RECENT_ROWS }),
        // a ledger without a tool call (no ToolGuard): nothing more to read
        lastToolCall.length === 0 ? Effect.succeed([]) : ledger.toolCalls({ limit: Tools.MAX_ROWS })
      ])
      const names = new Set(summary.map((s) => s.breakerName))
      for (const row of stats.values()) names.add(row.breakerName)
      const charts = Object.fromEntries(RANGE_NAMES.map((r) => [r, bucketize(stats.values(), r, now)])) as {
        [R in Range]: Chart
      }
      const snapshot: Snapshot = {
        generatedAt: new Date(now),
        breakers: Array.from(names).sort(),
        summary,
        failures,
        transitions,
        charts,
        tools: Tools.summarize(toolCalls, now - Tools.WINDOW_MILLIS)
      }
      const summaryJson = JSON.stringify(summary)
      token = next
      yield* publish({ _tag: "Snapshot", snapshot, summaryJson, event: sse("snapshot", JSON.stringify(snapshot)) })
    }).pipe(
      Effect.catchTag("LedgerError", (e) =>
        Effect.gen(function*() {
          // read everything again once the ledger answers
          token = ""
          summaryToken = ""
          if (current?._tag === "Error" && current.message === e.message) return
          yield* publish({
            _tag: "Error",
            message: e.message,
            event: sse("ledger-error", JSON.stringify({ error: e.message }))
          })
        })),
      Effect.ensuring(Deferred.succeed(first, undefined))
    )

    // the app starts with a snapshot: no client waits for the first (possibly slow) read
    yield* tick
    yield* tick.pipe(Effect.delay(options.pollInterval), Effect.forever, Effect.forkScoped)

    const latest = Effect.zipRight(
      Deferred.await(first),
      Effect.suspend(() =>
        current === undefined
          ? Effect.dieMessage("the dashboard's producer published nothing")
          : Effect.succeed(current)
      )
    )
    const unsafeSubscribe = (listener: (event: Uint8Array) => void) => {
      listeners.add(listener)
      if (current !== undefined) listener(current.event)
      return () => {
        listeners.delete(listener)
      }
    }
    return { latest, unsafeSubscribe, unsafeCurrent: () => current }
  })
