/**
 * The call timeout: a node that overruns `callTimeout` is interrupted and the
 * call fails with `CallTimeoutError` once the node's finalizers have run.
 *
 * Cost (docs/performance.md, rows "suspending node"): the node starts at once
 * in a child fiber on the current thread (it sees the caller's services and
 * FiberRefs; the FiberRefs it sets stay in the node). A node that completes
 * synchronously never touches a timer. A node that suspends is added to the
 * breaker's deadline list; one sleeper fiber per breaker sleeps on the
 * `Clock` (so `TestClock` drives it) until the earliest deadline, at most one
 * tick (`min(callTimeout, 1 s)`) at a time, and expires the calls that
 * overran. Instead of a race and a timer per call (`Effect.timeout`: two
 * fibers and an interruption to await), a call costs one entry in a `Set`.
 *
 * A caller that only awaits a promise (a plain async LangGraph node) needs no
 * child fiber at all: `awaitPromise` waits for the promise on the caller's
 * fiber and, at the deadline, stops waiting and tells the caller (which aborts
 * the node's `AbortSignal`) — what interrupting a promise can mean.
 *
 * The sleeper stops at the first tick that finds no call in flight, so an
 * idle breaker holds no timer for more than a tick (a process can exit).
 * Every call of a breaker has the same timeout and clocks do not go back, so
 * the `Set`'s insertion order is deadline order. The sleeper runs with the
 * clock of the call that started it.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"

interface Entry {
  readonly deadline: number
  /** called once, by the sleeper, when the deadline has passed */
  readonly expire: () => void
}

const MAX_TICK_MILLIS = 1000

/** the timeout runner of one breaker */
export class Deadlines<T> {
  /** made when a call first suspends: most calls of most nodes that complete synchronously never need it */
  private pendingSet: Set<Entry> | undefined
  private sleeping = false
  private readonly tickMillis: number

  constructor(readonly timeoutMillis: number, readonly onTimeout: () => T) {
    this.tickMillis = Math.max(1, Math.min(timeoutMillis, MAX_TICK_MILLIS))
  }

  private get pending(): Set<Entry> {
    return this.pendingSet ??= new Set()
  }

  private loop(): Effect.Effect<void> {
    return Effect.clockWith((clock) => {
      const now = clock.unsafeCurrentTimeMillis()
      let first: Entry | undefined
      for (const e of this.pending) {
        if (e.deadline > now) {
          first = e
          break
        }
        this.pending.delete(e)
        e.expire()
      }
      if (first === undefined) {
        this.sleeping = false
        return Effect.void
      }
      return Effect.zipRight(
        clock.sleep(Duration.millis(Math.min(first.deadline - now, this.tickMillis))),
        Effect.suspend(() => this.loop())
      )
    })
  }

  /** whether the sleeper must be started (it is then marked as started) */
  private needsSleeper(): boolean {
    if (this.sleeping) return false
    this.sleeping = true
    return true
  }

  /** `self` under the timeout */
  run<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | T, R> {
    return Effect.withFiberRuntime<A, E | T, R>((parent) => {
      const runtime = Runtime.make({
        context: parent.currentContext as any,
        fiberRefs: parent.getFiberRefs(),
        runtimeFlags: Runtime.defaultRuntimeFlags
      })
      const child = Runtime.runFork(runtime)(self)
      const done = child.unsafePoll()
      if (done !== null) return done
      return Effect.clockWith((clock) => {
        let timedOut = false
        const entry: Entry = {
          deadline: clock.unsafeCurrentTimeMillis() + this.timeoutMillis,
          expire: () => {
            timedOut = true
            child.unsafeInterruptAsFork(FiberId.none)
          }
        }
        this.pending.add(entry)
        if (this.needsSleeper()) {
          // not a child of the caller: it serves every call in flight and outlives the one that started it;
          // it ends by itself at the first tick with no call in flight
          Runtime.runFork(runtime as Runtime.Runtime<never>)(this.loop())
        }
        // the child's exit, observed directly (`child.await` would cost one more scheduler hop); not
        // Fiber.join: the node's own FiberRef changes stay in the node, as on the synchronous path
        return Effect.onInterrupt(
          Effect.async<A, E | T>((resume) => {
            child.addObserver((exit: Exit.Exit<A, E>) => {
              this.pending.delete(entry)
              resume(timedOut && Exit.isInterrupted(exit) ? Effect.fail(this.onTimeout()) : exit)
            })
          }),
          () => {
            this.pending.delete(entry)
            return Fiber.interrupt(child)
          }
        )
      })
    })
  }

  /**
   * Waits for `promise` on the caller's fiber, no child fiber: at the
   * deadline the wait ends with the timeout error, after `stop` is told with
   * it (it aborts the node's signal). Interrupting the caller ends the wait
   * and tells `stop` (with `undefined`).
   */
  awaitPromise<A>(promise: PromiseLike<A>, stop: (error: T | undefined) => void): Effect.Effect<A, unknown> {
    return Effect.clockWith((clock) => {
      let settled = false
      let resume: ((effect: Effect.Effect<A, unknown>) => void) | undefined
      const entry: Entry = {
        deadline: clock.unsafeCurrentTimeMillis() + this.timeoutMillis,
        expire: () => {
          if (settled) return
          settled = true
          const error = this.onTimeout()
          stop(error)
          resume?.(Effect.fail(error))
        }
      }
      this.pending.add(entry)
      const wait = Effect.async<A, unknown>((cb) => {
        if (settled) return cb(Effect.fail(this.onTimeout()))
        resume = cb
        promise.then(
          (a) => {
            if (settled) return
            settled = true
            this.pending.delete(entry)
            cb(Effect.succeed(a))
          },
          (e) => {
            if (settled) return
            settled = true
            this.pending.delete(entry)
            cb(Effect.fail(e))
          }
        )
        return Effect.sync(() => {
          if (settled) return
          settled = true
          this.pending.delete(entry)
          stop(undefined)
        })
      })
      // the sleeper is a daemon: it serves every call in flight and ends at the first tick with none
      return this.needsSleeper() ? Effect.zipRight(Effect.forkDaemon(this.loop()), wait) : wait
    })
  }
}
