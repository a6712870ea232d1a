/**
 * The call timeout: a node that overruns `callTimeout` is interrupted and the
 * call fails with `CallTimeoutError` once the node's finalizers have run.
 *
 * Cost (docs/performance.md, rows "default callTimeout"): the node starts at
 * once in a child fiber on the current thread (it sees the caller's services
 * and FiberRefs; the FiberRefs it sets stay in the node). A node that
 * completes synchronously never touches a timer. A node that suspends is
 * added to the breaker's deadline list; one sleeper fiber per breaker sleeps
 * on the `Clock` (so `TestClock` drives it) until the earliest deadline and
 * interrupts the nodes that overran. Instead of a race and a timer per call
 * (`Effect.timeout`: two fibers and an interruption to await), a call costs
 * one entry in a `Set` and, when it is the only one in flight, starting the
 * sleeper and stopping it without waiting.
 *
 * Every call of a breaker has the same timeout and clocks do not go back, so
 * the `Set`'s insertion order is deadline order: the sleeper only ever looks
 * at the first entries. The sleeper runs with the clock of the call that
 * started it; it stops when the list is empty, so an idle breaker holds no
 * timer (a process can exit).
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

/** the timeout runner of one breaker: `run(self)` is `self` under the timeout */
export const make = <T>(timeoutMillis: number, onTimeout: () => T) => {
  const pending = new Set<Entry>()
  /** the sleeper now in charge; an older one that wakes late sees it is not and stops */
  let sleeper: { fiber: Fiber.RuntimeFiber<void> | undefined } | undefined

  const startSleeper = (runtime: Runtime.Runtime<never>) => {
    const me: { fiber: Fiber.RuntimeFiber<void> | undefined } = { fiber: undefined }
    sleeper = me
    const loop: Effect.Effect<void> = Effect.clockWith((clock) =>
      Effect.suspend(() => {
        if (sleeper !== me) return Effect.void
        const now = clock.unsafeCurrentTimeMillis()
        for (const e of pending) {
          if (e.deadline > now) return Effect.zipRight(clock.sleep(Duration.millis(e.deadline - now)), loop)
          pending.delete(e)
          e.timedOut = true
          e.child.unsafeInterruptAsFork(FiberId.none)
        }
        sleeper = undefined
        return Effect.void
      })
    )
    // not a child of the caller: it serves every call in flight and outlives the one that started it;
    // it ends by itself when no call is in flight
    me.fiber = Runtime.runFork(runtime)(loop)
  }

  const remove = (entry: Entry) => {
    if (pending.delete(entry) && pending.size === 0 && sleeper !== undefined) {
      const fiber = sleeper.fiber
      sleeper = undefined
      // no need to wait: a stopped sleeper only clears its timer
      fiber?.unsafeInterruptAsFork(FiberId.none)
    }
  }

  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | T, R> =>
    Effect.withFiberRuntime<A, E | T, R>((parent) => {
      const runtime = Runtime.make({
        context: parent.currentContext as any,
        fiberRefs: parent.getFiberRefs(),
        runtimeFlags: Runtime.defaultRuntimeFlags
      })
      const child = Runtime.runFork(runtime)(self)
      const done = child.unsafePoll()
      if (done !== null) return done
      return Effect.clockWith((clock) => {
        const entry: Entry = { deadline: clock.unsafeCurrentTimeMillis() + timeoutMillis, child, timedOut: false }
        pending.add(entry)
        if (sleeper === undefined) startSleeper(runtime as Runtime.Runtime<never>)
        // child.await, not Fiber.join: the node's own FiberRef changes stay in the node, as on the synchronous path
        return Effect.flatMap(child.await, (exit): Effect.Effect<A, E | T> => {
          remove(entry)
          return entry.timedOut && Exit.isInterrupted(exit) ? Effect.fail(onTimeout()) : exit
        }).pipe(
          Effect.onInterrupt(() => {
            remove(entry)
            return Fiber.interrupt(child)
          })
        )
      })
    })
}
