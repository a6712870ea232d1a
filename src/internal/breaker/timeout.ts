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
 * tick (`min(callTimeout, 1 s)`) at a time, and interrupts the nodes that
 * overran. Instead of a race and a timer per call (`Effect.timeout`: two
 * fibers and an interruption to await), a call costs one entry in a `Set`.
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
  readonly child: Fiber.RuntimeFiber<unknown, unknown>
  timedOut: boolean
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
        e.timedOut = true
        e.child.unsafeInterruptAsFork(FiberId.none)
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
        const entry: Entry = { deadline: clock.unsafeCurrentTimeMillis() + this.timeoutMillis, child, timedOut: false }
        this.pending.add(entry)
        if (!this.sleeping) {
          this.sleeping = true
          // not a child of the caller: it serves every call in flight and outlives the one that started it;
          // it ends by itself at the first tick with no call in flight
          Runtime.runFork(runtime as Runtime.Runtime<never>)(this.loop())
        }
        // child.await, not Fiber.join: the node's own FiberRef changes stay in the node, as on the synchronous path
        return Effect.flatMap(child.await, (exit): Effect.Effect<A, E | T> => {
          this.pending.delete(entry)
          return entry.timedOut && Exit.isInterrupted(exit) ? Effect.fail(this.onTimeout()) : exit
        }).pipe(
          Effect.onInterrupt(() => {
            this.pending.delete(entry)
            return Fiber.interrupt(child)
          })
        )
      })
    })
  }
}
