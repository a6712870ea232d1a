/**
 * The write queue's FIFO.
 *
 * @internal
 */

/** a FIFO with O(1) push and shift */
export class Deque<A> {
  private items: Array<A | undefined> = []
  private head = 0
  get length(): number {
    return this.items.length - this.head
  }
  push(a: A): void {
    this.items.push(a)
  }
  shift(): A | undefined {
    if (this.head >= this.items.length) return undefined
    const a = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return a
  }
  take(n: number): Array<A> {
    const count = Math.min(n, this.length)
    const out = this.items.slice(this.head, this.head + count) as Array<A>
    if (this.head + count >= this.items.length) {
      this.items = []
      this.head = 0
    } else {
      for (let i = this.head; i < this.head + count; i++) this.items[i] = undefined
      this.head += count
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head)
        this.head = 0
      }
    }
    return out
  }
}
