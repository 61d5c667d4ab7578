import { StoreCallError, type StoreErrorKind, type StoreOutcome } from '@tiercache/core'
import type { Cluster, Redis } from 'ioredis'
import type { CircuitBreaker } from './circuit-breaker.js'
import { CircuitOpenError, CommandTimeoutError, LateCommandError, NotConnectedError } from './errors.js'
import type { ServerClock } from './server-clock.js'

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

  constructor(client: Redis | Cluster, breaker: CircuitBreaker, timeoutMs: number, clock: ServerClock) {
    this.#client = client
    this.#breaker = breaker
    this.#timeoutMs = timeoutMs
    this.#clock = clock
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
    const sentAt = performance.now()
    const deadline = this.#clock.toRedis(sentAt + this.#timeoutMs)

    return new Promise<T>((resolve, reject) => {
      let settled = false
      // Judged after the event loop's next I/O phase: the timers of a burst all
      // fire before the replies waiting in the socket are read, and a reply
      // that is there by then is an answer, not a time-out.
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (settled) return
          settled = true
          // Answers to other calls since this one was sent: Redis is alive, only busy.
          if (this.#lastAnswerAt < sentAt) this.#breaker.failed(permit)
          else this.#breaker.succeeded(permit)
          reject(this.#fail(operation, 'timeout', 'unknown', new CommandTimeoutError(this.#timeoutMs)))
        })
      }, this.#timeoutMs)
      let sent: Promise<T>
      try {
        sent = send({ deadline })
      } catch (error) {
        sent = Promise.reject(error)
      }
      sent.then(
        (value) => {
          this.#lastAnswerAt = performance.now()
          if (settled) return
          settled = true
          clearTimeout(timer)
          this.#breaker.succeeded(permit)
          resolve(value)
        },
        (error: unknown) => {
          const answered = isReply(error) || error instanceof LateCommandError
          if (answered) this.#lastAnswerAt = performance.now()
          // A late failure after the timeout is already counted and reported.
          if (settled) return
          settled = true
          clearTimeout(timer)
          if (error instanceof StoreCallError) {
            this.#breaker.succeeded(permit)
            reject(this.count(error))
          } else if (error instanceof LateCommandError) {
            this.#breaker.succeeded(permit)
            reject(this.#fail(operation, 'timeout', 'not-applied', error))
          } else if (isReply(error)) {
            if (UNWELL_REPLY.test((error as Error).message)) this.#breaker.failed(permit)
            else this.#breaker.succeeded(permit)
            // Redis refused the command as a whole (our scripts fail before their first write).
            reject(this.#fail(operation, 'server', 'not-applied', error))
          } else if (error instanceof TypeError || error instanceof RangeError) {
            this.#breaker.succeeded(permit)
            reject(error)
          } else {
            // The connection failed with the call in flight: it may have run.
            this.#breaker.failed(permit)
            reject(this.#fail(operation, 'connection', 'unknown', error))
          }
        },
      )
    })
  }

  #fail(operation: string, kind: StoreErrorKind, outcome: StoreOutcome, cause: unknown): StoreCallError {
    return this.count(new StoreCallError({ operation, kind, outcome, cause }))
  }
}

function isReply(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError'
}
