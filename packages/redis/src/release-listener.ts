import type { Cluster, Redis } from 'ioredis'

/**
 * The one subscriber connection of a store: it listens on the release channel
 * and wakes the local waiters of each lock key announced there.
 *
 * The connection is made on the first wait (a store that never waits never
 * opens it) by duplicating the client, so it has the same address, AUTH, TLS
 * and database. Messages missed while it reconnects are harmless: waiters also
 * re-check the lock key on a backoff.
 */
export class ReleaseListener {
  readonly #client: Redis | Cluster
  readonly #channel: string
  readonly #onError: (error: unknown) => void
  readonly #waiters = new Map<string, Set<() => void>>()
  #subscriber: Redis | Cluster | undefined
  #subscribed: Promise<void> | undefined

  constructor(client: Redis | Cluster, channel: string, onError: (error: unknown) => void) {
    this.#client = client
    this.#channel = channel
    this.#onError = onError
  }

  /** Call `wake` when `lockKey` is announced released. Returns the function that stops listening. */
  listen(lockKey: string, wake: () => void): () => void {
    let set = this.#waiters.get(lockKey)
    if (set === undefined) {
      set = new Set()
      this.#waiters.set(lockKey, set)
    }
    set.add(wake)
    return () => {
      set.delete(wake)
      if (set.size === 0 && this.#waiters.get(lockKey) === set) this.#waiters.delete(lockKey)
    }
  }

  /** Wake the local waiters of `lockKey` now (this process released it). */
  announce(lockKey: string): void {
    const set = this.#waiters.get(lockKey)
    if (set === undefined) return
    for (const wake of [...set]) wake()
  }

  /**
   * Resolve once the subscription is live, or after `timeoutMs` (the caller
   * then relies on re-checks alone). A failed attempt is forgotten, so a later
   * wait tries again.
   */
  async ready(timeoutMs: number): Promise<boolean> {
    this.#subscribed ??= this.#subscribe().catch((error: unknown) => {
      this.#subscribed = undefined
      throw error
    })
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, timeoutMs), false)
    })
    try {
      return await Promise.race([this.#subscribed.then(() => true), timedOut])
    } catch (error) {
      this.#onError(error)
      return false
    } finally {
      clearTimeout(timer)
    }
  }

  async #subscribe(): Promise<void> {
    if (this.#subscriber === undefined) {
      // A subscriber waits for its connection instead of failing while it connects.
      const subscriber = this.#client.isCluster
        ? (this.#client as Cluster).duplicate([], { enableOfflineQueue: true })
        : (this.#client as Redis).duplicate({ enableOfflineQueue: true })
      subscriber.on('error', this.#onError)
      subscriber.on('message', (channel: string, lockKey: string) => {
        if (channel === this.#channel) this.announce(lockKey)
      })
      this.#subscriber = subscriber
    }
    await this.#subscriber.subscribe(this.#channel)
  }

  /** Close the subscriber connection, if one was made. */
  async close(): Promise<void> {
    const subscriber = this.#subscriber
    this.#subscriber = undefined
    this.#subscribed = undefined
    subscriber?.disconnect()
  }
}
