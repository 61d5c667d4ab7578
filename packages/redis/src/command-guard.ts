import { StoreCallError, type StoreErrorKind, type StoreOutcome } from '@tiercache/core'
import type { Cluster, Redis } from 'ioredis'
import type { CircuitBreaker, Permit } from './circuit-breaker.js'
import { CircuitOpenError, CommandTimeoutError, LateCommandError, NotConnectedError } from './errors.js'
import type { ServerClock } from './server-clock.js'
import { QueuedCall, TimeoutQueue } from './timeout-queue.js'

/**
 * ioredis states in which a command would sit in the offline queue until the
 * connection comes back. Refusing at once is the point: a cache must answer
 * from L1 or the loader now, not after Redis returns.
 */
const OFFLINE = new Set(['reconnecting', 'disconnecting', 'close', 'end'])

/**
 * Replies that come from a healthy server and say nothing about its health
 * (WRONGTYPE, a script error...) do not count against the breaker; these do.
 */
const UNWELL_REPLY = /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN|BUSY|READONLY)/

/** Counts of failed calls by kind, since the store was made. */
export type ErrorCounts = Record<StoreErrorKind, number>

/** What a guarded call is given: the deadline to pass to its script, in Redis's clock (ms). */
export interface Attempt {
  readonly deadline: number
}

/** How a {@link CommandGuard} is wired into its store. */
export interface CommandGuardOptions {
  readonly client: Redis | Cluster
  readonly breaker: CircuitBreaker
  /** ms a call sent to Redis may wait for its answer. */
  readonly timeoutMs: number
  readonly clock: ServerClock
  /** Calls sent and not yet answered, at most; the others wait their turn unsent. */
  readonly maxInFlight: number
}

/**
 * Every call RedisStore makes goes through here: refused at once when the
 * client is offline or the circuit is open, abandoned after `timeoutMs`, and
 * any failure turned into a `StoreCallError` naming the operation, its kind
 * and whether it may still have had its effect. Failures are counted by kind.
 *
 * The breaker counts connectivity failures only: a time-out counts when Redis
 * answered nothing since the call was sent. A burst that queues calls behind
 * each other past the time-out, while answers keep coming, is load, not an
 * outage, and must not cut every key of every namespace off Redis.
 *
 * At most `maxInFlight` calls are sent and unanswered; the others wait in
 * order, unsent, and their time-out starts when they are sent. A burst of
 * thousands of writes otherwise had them all encoded into the socket in one
 * tick: their time-outs (and their deadlines in Redis) ran while they sat in
 * the client's own buffers, so writes that Redis would have served in time
 * were refused as late and reported failed (issue 15). A waiting call is
 * bounded all the same: the calls ahead of it are answered or time out, and
 * when Redis answers nothing the breaker opens and refuses it before it is sent.
 */
export class CommandGuard {
  readonly #client: Redis | Cluster
  readonly #breaker: CircuitBreaker
  readonly #timeoutMs: number
  readonly #clock: ServerClock
  readonly #counts: ErrorCounts = {
    timeout: 0,
    'circuit-open': 0,
    connection: 0,
    server: 0,
    decode: 0,
    'too-large': 0,
    contention: 0,
  }
  /** Local time of the last answer Redis gave, to any call (`-Infinity`: none yet). */
  #lastAnswerAt = Number.NEGATIVE_INFINITY
  /** The time-outs of the calls in flight, on one timer. */
  readonly #timeouts: TimeoutQueue
  readonly #maxInFlight: number
  #inFlight = 0
  /** Calls waiting for a slot, oldest first (`#waitingFrom` is the next to send). */
  #waiting: GuardedCall<unknown>[] = []
  #waitingFrom = 0

  constructor(options: CommandGuardOptions) {
    this.#client = options.client
    this.#breaker = options.breaker
    this.#timeoutMs = options.timeoutMs
    this.#clock = options.clock
    this.#maxInFlight = options.maxInFlight
    this.#timeouts = new TimeoutQueue(options.timeoutMs)
  }

  /** Calls sent and not yet answered (for tests: an answered or timed-out call is not held). */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Calls waiting for a slot, unsent. */
  get waiting(): number {
    return this.#waiting.length - this.#waitingFrom
  }

  /** Failures so far, by kind (a copy). */
  get counts(): Readonly<ErrorCounts> {
    return { ...this.#counts }
  }

  /** Count a failure that did not come through `run` (an oversized value, malformed bytes), and return it. */
  count<E extends StoreCallError>(error: E): E {
    this.note(error.kind)
    return error
  }

  /** Count one failure of `kind`. */
  note(kind: StoreErrorKind): void {
    this.#counts[kind]++
  }

  /** Run `send` (which issues the Redis commands) under the guard. */
  run<T>(operation: string, send: (attempt: Attempt) => Promise<T>): Promise<T> {
    const status = this.#client.status
    if (OFFLINE.has(status)) {
      return Promise.reject(this.#fail(operation, 'connection', 'not-applied', new NotConnectedError(status)))
    }
    const permit = this.#breaker.allow()
    if (permit === undefined) {
      return Promise.reject(this.#fail(operation, 'circuit-open', 'not-applied', new CircuitOpenError()))
    }
    const call = new GuardedCall<T>(this, operation, permit, send)
    const promise = new Promise<T>((resolve, reject) => {
      call.resolve = resolve
      call.reject = reject
    })
    if (this.#inFlight < this.#maxInFlight && this.waiting === 0) this.#ready(call as GuardedCall<unknown>)
    else this.#waiting.push(call as GuardedCall<unknown>)
    return promise
  }

  /**
   * Take a slot for `call` and send it at the end of the current task, with
   * the others of the task: its deadline in Redis then counts from when it
   * is written, not from the start of a task that goes on preparing
   * thousands more (a burst's first calls were refused as late by Redis).
   */
  #ready(call: GuardedCall<unknown>): void {
    this.#inFlight++
    this.#toSend.push(call)
    // A tick, not a microtask: it runs once the microtask queue is drained, so every reply of
    // this task that led to a new call has joined the batch (7 calls per write at 64 in flight, not 3).
    if (this.#toSend.length === 1) process.nextTick(this.#flush)
  }

  #toSend: GuardedCall<unknown>[] = []

  readonly #flush = (): void => {
    const calls = this.#toSend
    this.#toSend = []
    // The task's commands leave in one write: ioredis writes each command to the socket as it is
    // sent, a system call apiece, which cost a Redis hit as much as the rest of its path at 64 in flight.
    const socket = calls.length > 1 ? this.#socket() : undefined
    socket?.cork()
    try {
      for (const call of calls) this.#send(call)
    } finally {
      socket?.uncork()
    }
  }

  /** The connection's socket, when one connected client writes commands straight to it (not a Cluster). */
  #socket(): { cork(): void; uncork(): void } | undefined {
    const client = this.#client as Partial<Redis>
    if (client.status !== 'ready') return undefined
    const stream = client.stream
    return stream !== undefined && typeof stream.cork === 'function' ? stream : undefined
  }

  #send(call: GuardedCall<unknown>): void {
    // The deadline Redis enforces counts from now; the local time-out from the end of this task (later).
    const deadline = this.#clock.toRedis(performance.now() + this.#timeoutMs)
    this.#timeouts.add(call)
    let sent: Promise<unknown>
    try {
      sent = call.send({ deadline })
    } catch (error) {
      sent = Promise.reject(error)
    }
    sent.then(
      (value) => call.answered(value),
      (error: unknown) => call.failed(error),
    )
  }

  /** A slot freed: send the calls waiting for one, each checked again as if it came now. */
  #freed(): void {
    this.#inFlight--
    while (this.#inFlight < this.#maxInFlight && this.waiting > 0) {
      const call = this.#waiting[this.#waitingFrom]!
      this.#waiting[this.#waitingFrom++] = undefined as unknown as GuardedCall<unknown>
      if (this.#waitingFrom === this.#waiting.length) {
        this.#waiting = []
        this.#waitingFrom = 0
      }
      // Never sent: refused now, as it would have been had it come now, with nothing applied.
      const status = this.#client.status
      if (OFFLINE.has(status)) {
        // A probe that cannot be sent found Redis unreachable: the circuit opens again.
        if (call.permit === 'probe') this.#breaker.failed(call.permit)
        call.reject(this.#fail(call.operation, 'connection', 'not-applied', new NotConnectedError(status)))
        continue
      }
      if (this.#breaker.state === 'open') {
        call.reject(this.#fail(call.operation, 'circuit-open', 'not-applied', new CircuitOpenError()))
        continue
      }
      this.#ready(call)
    }
  }

  /**
   * Bytes of a reply arrived: Redis is alive, whatever the call they belong to.
   * A reply that takes longer than the time-out to arrive (a large value over a
   * slow or busy link) is not an outage, nor are the calls queued behind it on
   * the connection: without this, reads sent behind one such reply all timed
   * out with "no answer since sent" and opened the circuit for every key.
   */
  heard(): void {
    this.#lastAnswerAt = performance.now()
  }

  /** `call` was not answered within the time-out. */
  expired(call: GuardedCall<unknown>): void {
    // Answers to other calls since this one was sent: Redis is alive, only busy.
    if (this.#lastAnswerAt < call.sentAt) this.#breaker.failed(call.permit)
    else this.#breaker.succeeded(call.permit)
    call.reject(this.#fail(call.operation, 'timeout', 'unknown', new CommandTimeoutError(this.#timeoutMs)))
    this.#freed()
  }

  /** `call` got its reply; false when it had timed out already (and was rejected then). */
  succeeded(call: GuardedCall<unknown>): boolean {
    this.#lastAnswerAt = performance.now()
    if (!call.queued) return false
    this.#timeouts.remove(call)
    this.#breaker.succeeded(call.permit)
    this.#freed()
    return true
  }

  /** `call` failed with `error`: what to reject it with, or `TIMED_OUT` when it was rejected already. */
  failed(call: GuardedCall<unknown>, failure: unknown): unknown {
    // A part of the call failed after its other parts were sent (a setMany's other groups):
    // judged as its own failure, but whatever that says, the others may have landed.
    const partly = failure instanceof PartFailed
    const error = partly ? failure.failure : failure
    const refused: StoreOutcome = partly ? 'unknown' : 'not-applied'
    const answered = isReply(error) || error instanceof LateCommandError
    if (answered) this.#lastAnswerAt = performance.now()
    // A late failure after the timeout is already counted and reported.
    if (!call.queued) return TIMED_OUT
    this.#timeouts.remove(call)
    this.#freed()
    const { permit, operation } = call
    if (error instanceof StoreCallError) {
      this.#breaker.succeeded(permit)
      if (!partly || error.outcome === 'unknown') return this.count(error)
      return this.#fail(operation, error.kind, 'unknown', error)
    }
    if (error instanceof LateCommandError) {
      this.#breaker.succeeded(permit)
      return this.#fail(operation, 'timeout', refused, error)
    }
    if (isReply(error)) {
      if (UNWELL_REPLY.test((error as Error).message)) this.#breaker.failed(permit)
      else this.#breaker.succeeded(permit)
      // Redis refused the command as a whole (our scripts fail before their first write).
      return this.#fail(operation, 'server', refused, error)
    }
    if (error instanceof TypeError || error instanceof RangeError) {
      this.#breaker.succeeded(permit)
      return error
    }
    // The connection failed with the call in flight: it may have run.
    this.#breaker.failed(permit)
    return this.#fail(operation, 'connection', 'unknown', error)
  }

  #fail(operation: string, kind: StoreErrorKind, outcome: StoreOutcome, cause: unknown): StoreCallError {
    return this.count(new StoreCallError({ operation, kind, outcome, cause }))
  }
}

/**
 * Thrown by a call made of several commands sent together (a setMany's groups
 * of keys, each its own script) when one fails: the others may have been
 * applied, so the call's outcome is `unknown` even when this failure alone says
 * `not-applied` (Redis refusing one script: OOM, a late deadline). `failure` is
 * what the part failed with, judged as usual for the breaker and the kind.
 */
export class PartFailed {
  readonly failure: unknown
  constructor(failure: unknown) {
    this.failure = failure
  }

  /** `error` as the failure of a part (once: a part of a part is a part). */
  static of(error: unknown): PartFailed {
    return error instanceof PartFailed ? error : new PartFailed(error)
  }
}

/** What `CommandGuard.failed` returns for a call that timed out before it failed: nothing more to report. */
const TIMED_OUT: unique symbol = Symbol('timed out')

/**
 * One guarded call: its permit and its promise's settlers, linked into the
 * guard's time-out queue while in flight. A class rather than closures per
 * call: a Redis hit allocates one of these instead of a timer and four closures.
 */
class GuardedCall<T> extends QueuedCall {
  resolve!: (value: T) => void
  reject!: (error: unknown) => void
  readonly #guard: CommandGuard
  readonly operation: string
  readonly permit: Permit
  readonly send: (attempt: Attempt) => Promise<T>

  constructor(guard: CommandGuard, operation: string, permit: Permit, send: (attempt: Attempt) => Promise<T>) {
    super()
    this.#guard = guard
    this.operation = operation
    this.permit = permit
    this.send = send
  }

  expire(): void {
    this.#guard.expired(this as GuardedCall<unknown>)
  }

  answered(value: T): void {
    if (this.#guard.succeeded(this as GuardedCall<unknown>)) this.resolve(value)
  }

  failed(error: unknown): void {
    const outcome = this.#guard.failed(this as GuardedCall<unknown>, error)
    if (outcome !== TIMED_OUT) this.reject(outcome)
  }
}

function isReply(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError'
}
