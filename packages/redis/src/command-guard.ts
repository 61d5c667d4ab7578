import { StoreError } from '@tiercache/core'
import type { Cluster, Redis } from 'ioredis'
import type { CircuitBreaker } from './circuit-breaker.js'
import { CircuitOpenError, CommandTimeoutError, NotConnectedError } from './errors.js'

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

/**
 * Every call RedisStore makes goes through here: refused at once when the
 * client is offline or the circuit is open, abandoned after `timeoutMs`, and
 * any failure turned into the core's `StoreError` naming the operation.
 */
export class CommandGuard {
  readonly #client: Redis | Cluster
  readonly #breaker: CircuitBreaker
  readonly #timeoutMs: number

  constructor(client: Redis | Cluster, breaker: CircuitBreaker, timeoutMs: number) {
    this.#client = client
    this.#breaker = breaker
    this.#timeoutMs = timeoutMs
  }

  /** Run `send` (which issues the Redis commands) under the guard. */
  run<T>(operation: string, send: () => Promise<T>): Promise<T> {
    const status = this.#client.status
    if (OFFLINE.has(status)) return Promise.reject(new StoreError(operation, new NotConnectedError(status)))
    const permit = this.#breaker.allow()
    if (permit === undefined) return Promise.reject(new StoreError(operation, new CircuitOpenError()))

    return new Promise<T>((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        this.#breaker.failed(permit)
        reject(new StoreError(operation, new CommandTimeoutError(this.#timeoutMs)))
      }, this.#timeoutMs)
      let sent: Promise<T>
      try {
        sent = send()
      } catch (error) {
        sent = Promise.reject(error)
      }
      sent.then(
        (value) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          this.#breaker.succeeded(permit)
          resolve(value)
        },
        (error: unknown) => {
          // A late failure after the timeout is already counted and reported.
          if (settled) return
          settled = true
          clearTimeout(timer)
          if (isUnwell(error)) this.#breaker.failed(permit)
          else this.#breaker.succeeded(permit)
          reject(error instanceof StoreError ? error : new StoreError(operation, error))
        },
      )
    })
  }
}

function isUnwell(error: unknown): boolean {
  if (!(error instanceof Error)) return true
  if (error.name !== 'ReplyError') return true
  return UNWELL_REPLY.test(error.message)
}
