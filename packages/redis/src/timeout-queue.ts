/**
 * One call waiting for its answer, linked into a {@link TimeoutQueue} in the
 * order it was sent. Subclasses hold what the expiry needs.
 */
export abstract class QueuedCall {
  /** `performance.now()` when the call's time-out started (see `TimeoutQueue.add`); `Infinity` until then. */
  sentAt = Number.POSITIVE_INFINITY
  prev: QueuedCall | undefined = undefined
  next: QueuedCall | undefined = undefined
  /** Linked in a queue (not yet answered, not yet expired). */
  queued = false

  /** The call was not answered within the queue's time-out. */
  abstract expire(): void
}

/**
 * The time-outs of every call of one client, on one timer. All calls share
 * one time-out, so they expire in the order they were sent: a linked list in
 * that order, unlinked as each call is answered, with one timer set for the
 * oldest. This replaces one `setTimeout` (and its closure) per command
 * (issue 15); a call lives in the queue only while it is in flight.
 *
 * A call is judged after the event loop's next I/O phase, as the per-call
 * timers were: the time-outs of a burst all fall due before the replies
 * waiting in the socket are read, and a reply that is there by then is an
 * answer, not a time-out.
 */
export class TimeoutQueue {
  readonly #timeoutMs: number
  #head: QueuedCall | undefined = undefined
  #tail: QueuedCall | undefined = undefined
  #timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** When the pending timer fires (`performance.now()` time). */

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /**
   * Start the time-out of `call`, sent now. Its clock starts once the
   * current task has run to its end (stamped in one microtask for all the
   * calls of the task): a task that sends thousands of calls must not spend
   * their time-out on its own CPU, before a single reply can be read. Only
   * later than the send, never earlier: the deadline a call carries to Redis
   * is counted from the send, so nothing lands after it is given up.
   */
  add(call: QueuedCall): void {
    call.sentAt = Number.POSITIVE_INFINITY
    call.queued = true
    call.prev = this.#tail
    call.next = undefined
    if (this.#tail === undefined) {
      this.#head = call
      // A call in flight keeps the process alive until it is answered or times out, even when
      // nothing else does (a socket the user unref'd, a hung Redis): it must not go unsettled.
      this.#timer?.ref()
    } else this.#tail.next = call
    this.#tail = call
    if (!this.#stamping) {
      this.#stamping = true
      queueMicrotask(this.#stamp)
    }
  }

  #stamping = false

  /** The calls added since the last stamp are the tail of the list: their clocks start now. */
  readonly #stamp = (): void => {
    this.#stamping = false
    const now = performance.now()
    for (let call = this.#tail; call !== undefined && call.sentAt === Number.POSITIVE_INFINITY; call = call.prev) {
      call.sentAt = now
    }
    if (this.#timer === undefined && this.#head !== undefined) this.#arm(this.#head.sentAt + this.#timeoutMs)
  }

  /** `call` was answered: it no longer times out. */
  remove(call: QueuedCall): void {
    if (!call.queued) return
    call.queued = false
    const { prev, next } = call
    if (prev === undefined) this.#head = next
    else prev.next = next
    if (next === undefined) this.#tail = prev
    else next.prev = prev
    call.prev = undefined
    call.next = undefined
    // The timer stays, even with no call left: firing early for a younger head (or for none)
    // costs one check, less than a setTimeout and a clearTimeout on every call, which is what a
    // client with one call at a time paid. With no call left it is unref'd, so an idle client
    // keeps no process alive.
    if (this.#head === undefined) this.#timer?.unref()
  }

  /** Calls in flight (for tests). */
  get size(): number {
    let n = 0
    for (let call = this.#head; call !== undefined; call = call.next) n++
    return n
  }

  #arm(at: number): void {
    // +1: setTimeout counts whole milliseconds and may fire a fraction short of `at`.
    // Armed for a call in flight: ref'd until the queue empties (see remove).
    this.#timer = setTimeout(this.#fire, Math.max(0, at - performance.now()) + 1)
  }

  readonly #fire = (): void => {
    // The clock, not the instant it was armed for: a timer armed at the end of a long task fires
    // early by that task's length (Node counts its delay from the event loop's cached time), and a
    // call expired by the armed instant would be given up before its time-out.
    const firedAt = performance.now()
    this.#timer = undefined
    setImmediate(() => {
      // Every call due when the timer fired, oldest first (each sent before `firedAt - timeoutMs`).
      const due = firedAt - this.#timeoutMs
      while (this.#head !== undefined && this.#head.sentAt <= due) {
        const call = this.#head
        this.remove(call)
        call.expire()
      }
      // An unstamped head is armed by its stamp.
      const head = this.#head
      if (head !== undefined && this.#timer === undefined && head.sentAt !== Number.POSITIVE_INFINITY) {
        this.#arm(head.sentAt + this.#timeoutMs)
      }
    })
  }
}
