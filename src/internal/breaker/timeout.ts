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
 * fibers and an interruption to await), a call costs one entry in a linked list.
 *
 * A caller that only awaits a promise (a plain async LangGraph node) needs no
 * child fiber at all: `awaitPromise` waits for the promise on the caller's
 * fiber and, at the deadline, stops waiting and tells the caller (which aborts
 * the node's `AbortSignal`) — what interrupting a promise can mean.
 *
 * The sleeper stops at the first tick that finds no call in flight, so an
 * idle breaker holds no timer for more than a tick (a process can exit).
 * Every call of a breaker has the same timeout and clocks do not go back, so
 * appending to the list keeps it in deadline order. The sleeper runs with the
 * clock of the call that started it.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"

/** one call in flight, in the breaker's deadline list (a doubly linked list in deadline order) */
class Entry {
  prev: Entry | undefined = undefined
  next: Entry | undefined = undefined
  linked = false
  constructor(
    readonly deadline: number,
    /** called once, by the sleeper, when the deadline has passed */
    readonly expire: () => void
  ) {}
}

const MAX_TICK_MILLIS = 1000

/** the timeout runner of one breaker */
export class Deadlines<T> {
  // the calls in flight: every call of a breaker has the same timeout and clocks do not go back, so
  // appending keeps deadline order; a call that settles unlinks itself (O(1), no hashing, no tombstones)
  private head: Entry | undefined = undefined
  private tail: Entry | undefined = undefined
  private sleeping = false
  private readonly tickMillis: number

  constructor(readonly timeoutMillis: number, readonly onTimeout: () => T) {
    this.tickMillis = Math.max(1, Math.min(timeoutMillis, MAX_TICK_MILLIS))
  }

  private link(e: Entry): void {
    e.prev = this.tail
    if (this.tail === undefined) this.head = e
    else this.tail.next = e
    this.tail = e
    e.linked = true
  }

  private unlink(e: Entry): void {
    if (!e.linked) return
    e.linked = false
    if (e.prev === undefined) this.head = e.next
    else e.prev.next = e.next
    if (e.next === undefined) this.tail = e.prev
    else e.next.prev = e.prev
    e.prev = e.next = undefined
  }

  private loop(): Effect.Effect<void> {
    return Effect.clockWith((clock) => {
      const now = clock.unsafeCurrentTimeMillis()
      let first = this.head
      while (first !== undefined && first.deadline <= now) {
        this.unlink(first)
        first.expire()
        first = this.head
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
      // the caller's clock, read from the fiber (no Effect step)
      const clock = Context.get(parent.getFiberRef(DefaultServices.currentServices), Clock.Clock)
      let timedOut = false
      const entry = new Entry(clock.unsafeCurrentTimeMillis() + this.timeoutMillis, () => {
        timedOut = true
        child.unsafeInterruptAsFork(FiberId.none)
      })
      this.link(entry)
      if (this.needsSleeper()) {
        // not a child of the caller: it serves every call in flight and outlives the one that started it;
        // it ends by itself at the first tick with no call in flight
        Runtime.runFork(runtime as Runtime.Runtime<never>)(this.loop())
      }
      // the child's exit, observed directly (`child.await` would cost one more scheduler hop); not
      // Fiber.join: the node's own FiberRef changes stay in the node, as on the synchronous path.
      // Interrupting the caller interrupts the node and waits for its finalizers (the canceler).
      return Effect.async<A, E | T>((resume) => {
        child.addObserver((exit: Exit.Exit<A, E>) => {
          this.unlink(entry)
          resume(timedOut && Exit.isInterrupted(exit) ? Effect.fail(this.onTimeout()) : exit)
        })
        return Effect.suspend(() => {
          this.unlink(entry)
          return Fiber.interrupt(child)
        })
      })
    })
  }

  /**
   * Waits for `promise` on the caller's fiber, no child fiber: at the
   * deadline the wait ends with the timeout error, after `stop` is told with
   * it (it aborts the node's signal). A rejection fails with `onReject(e)`.
   *
   * With `cancelable`, interrupting the caller also tells `stop` (with
   * `undefined`) and takes the call off the deadline list. Without it (no
   * signal to abort) no canceler is installed — `Effect.async` wraps one in
   * an uninterruptible region, several steps per call — and an interrupted
   * call stays on the list until its deadline, where it is dropped.
   */
  awaitPromise<A, E>(
    promise: PromiseLike<A>,
    stop: (error: T | undefined) => void,
    onReject: (e: unknown) => E,
    cancelable: boolean
  ): Effect.Effect<A, E | T> {
    return Effect.clockWith((clock) => {
      let settled = false
      let resume: ((effect: Effect.Effect<A, E | T>) => void) | undefined
      const entry = new Entry(clock.unsafeCurrentTimeMillis() + this.timeoutMillis, () => {
        if (settled) return
        settled = true
        const error = this.onTimeout()
        stop(error)
        resume?.(Effect.fail(error))
      })
      this.link(entry)
      const wait = Effect.async<A, E | T>((cb) => {
        if (settled) return cb(Effect.fail(this.onTimeout()))
        resume = cb
        promise.then(
          (a) => {
            if (settled) return
            settled = true
            this.unlink(entry)
            cb(Effect.succeed(a))
          },
          (e) => {
            if (settled) return
            settled = true
            this.unlink(entry)
            cb(Exit.fail(onReject(e))) // Exit.fail: never inspects a hostile value (Effect.fail does)
          }
        )
        if (!cancelable) return
        return Effect.sync(() => {
          if (settled) return
          settled = true
          this.unlink(entry)
          stop(undefined)
        })
      })
      // the sleeper is a daemon: it serves every call in flight and ends at the first tick with none
      return this.needsSleeper() ? Effect.zipRight(Effect.forkDaemon(this.loop()), wait) : wait
    })
  }
}

/**
 * A promise awaited without a deadline. A rejection fails with
 * `onReject(e)`; with `cancelable`, interrupting the wait tells `stop`
 * (with `undefined`).
 */
export const awaitUntimed = <A, E>(
  promise: PromiseLike<A>,
  stop: (reason: undefined) => void,
  onReject: (e: unknown) => E,
  cancelable: boolean
): Effect.Effect<A, E> =>
  Effect.async<A, E>((resume) => {
    let settled = false
    promise.then(
      (a) => {
        settled = true
        resume(Effect.succeed(a))
      },
      (e) => {
        settled = true
        resume(Exit.fail(onReject(e))) // Exit.fail: never inspects a hostile value (Effect.fail does)
      }
    )
    if (!cancelable) return
    return Effect.sync(() => {
      if (!settled) stop(undefined)
    })
  })
