import { randomUUID } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { type Clock, systemClock } from './clock.js'
import type { SharedStore, StoreLock, StoreRecord, StoreWrite } from './store.js'
import { checkKey } from './validate.js'

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most records held across all namespaces; the least recently used go first.
   * @default 100_000
   */
  maxEntries?: number
  /** Time source, injectable for tests. @default the system clock */
  clock?: Clock
}

interface Held {
  readonly data: Uint8Array | undefined
  readonly staleAt: number
  readonly expiresAt: number
  readonly staleMs: number | undefined
}

interface Holder {
  readonly token: string
  readonly expiresAt: number
  readonly waiters: Set<() => void>
}

/**
 * The embedded shared store: one process, no network. Several `TierCache`
 * instances given the same `MemoryStore` share it as they would share Redis,
 * lock included, which is what the demo and the core's unit tests rely on.
 *
 * Records are kept as the encoded bytes the cache hands over, so no two caches
 * ever share an object through it.
 */
export class MemoryStore implements SharedStore {
  readonly name = 'memory'
  readonly #records: LRUCache<string, Held>
  readonly #generations = new Map<string, number>()
  readonly #locks = new Map<string, Holder>()
  readonly #clock: Clock

  /** The lock: in-process, with waiters woken on release. */
  readonly lock: StoreLock

  constructor(options: MemoryStoreOptions = {}) {
    const max = options.maxEntries ?? 100_000
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError(`options.maxEntries must be a positive integer, got ${String(max)}`)
    }
    this.#records = new LRUCache({ max })
    this.#clock = options.clock ?? systemClock
    this.lock = {
      acquire: async (ns, key, leaseMs) => this.#acquire(this.#lockKey(ns, key), leaseMs),
      release: async (ns, key, token) => this.#release(this.#lockKey(ns, key), token),
      extend: async (ns, key, token, leaseMs) => this.#extend(this.#lockKey(ns, key), token, leaseMs),
      waitForRelease: (ns, key, timeoutMs) => this.#waitForRelease(this.#lockKey(ns, key), timeoutMs),
    }
  }

  async get(namespace: string, key: string): Promise<StoreRecord | undefined> {
    return this.#read(this.#recordKey(namespace, key))
  }

  async getMany(namespace: string, keys: readonly string[]): Promise<(StoreRecord | undefined)[]> {
    return keys.map((key) => this.#read(this.#recordKey(namespace, key)))
  }

  async set(namespace: string, key: string, write: StoreWrite): Promise<void> {
    this.#write(this.#recordKey(namespace, key), write)
  }

  async setMany(namespace: string, entries: readonly (readonly [string, StoreWrite])[]): Promise<void> {
    for (const [key, write] of entries) this.#write(this.#recordKey(namespace, key), write)
  }

  async delete(namespace: string, key: string): Promise<void> {
    this.#records.delete(this.#recordKey(namespace, key))
  }

  /** O(1): the namespace moves to a new generation; old records age out of the LRU. */
  async purge(namespace: string): Promise<void> {
    this.#generations.set(namespace, (this.#generations.get(namespace) ?? 0) + 1)
  }

  /** Number of records held (all generations), for tests and diagnostics. */
  get size(): number {
    return this.#records.size
  }

  #recordKey(namespace: string, key: string): string {
    checkKey(namespace, 'namespace')
    checkKey(key)
    // Length-prefixing the namespace keeps "a:b" + "c" apart from "a" + "b:c".
    return `${namespace.length}:${namespace}:${this.#generations.get(namespace) ?? 0}:${key}`
  }

  #lockKey(namespace: string, key: string): string {
    checkKey(namespace, 'namespace')
    checkKey(key)
    return `${namespace.length}:${namespace}:${key}`
  }

  #read(recordKey: string): StoreRecord | undefined {
    const held = this.#records.get(recordKey)
    if (held === undefined) return undefined
    const now = this.#clock.now()
    if (now >= held.expiresAt) {
      this.#records.delete(recordKey)
      return undefined
    }
    const record = { data: held.data, freshMs: held.staleAt - now, keepMs: held.expiresAt - now }
    return held.staleMs === undefined ? record : { ...record, staleMs: held.staleMs }
  }

  #write(recordKey: string, write: StoreWrite): void {
    const now = this.#clock.now()
    this.#records.set(recordKey, {
      data: write.data,
      staleAt: now + write.freshMs,
      expiresAt: now + Math.max(write.keepMs, write.freshMs),
      staleMs: write.staleMs,
    })
  }

  #acquire(lockKey: string, leaseMs: number): string | undefined {
    const now = this.#clock.now()
    const holder = this.#locks.get(lockKey)
    if (holder !== undefined && now < holder.expiresAt) return undefined
    const token = randomUUID()
    this.#locks.set(lockKey, { token, expiresAt: now + leaseMs, waiters: holder?.waiters ?? new Set() })
    return token
  }

  #release(lockKey: string, token: string): boolean {
    const holder = this.#locks.get(lockKey)
    if (holder === undefined || holder.token !== token) return false
    this.#locks.delete(lockKey)
    for (const wake of holder.waiters) wake()
    return true
  }

  #extend(lockKey: string, token: string, leaseMs: number): boolean {
    const holder = this.#locks.get(lockKey)
    if (holder === undefined || holder.token !== token || this.#clock.now() >= holder.expiresAt) return false
    this.#locks.set(lockKey, { ...holder, expiresAt: this.#clock.now() + leaseMs })
    return true
  }

  #waitForRelease(lockKey: string, timeoutMs: number): Promise<boolean> {
    const holder = this.#locks.get(lockKey)
    if (holder === undefined || this.#clock.now() >= holder.expiresAt) return Promise.resolve(true)
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        holder.waiters.delete(wake)
        resolve(true)
      }
      // A holder that never releases (crashed) frees the key at its lease end.
      const wait = Math.min(timeoutMs, Math.max(0, holder.expiresAt - this.#clock.now()))
      const timer = setTimeout(() => {
        holder.waiters.delete(wake)
        resolve(wait < timeoutMs)
      }, wait)
      holder.waiters.add(wake)
    })
  }
}
