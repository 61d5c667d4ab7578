// Test-only reference: MemoryStore as of c9a472d (lru-cache of objects), before the
// parallel-array rewrite; memory-store-differential.test.ts runs the same operations
// against it and the current MemoryStore and compares every result. One change since
// c9a472d: parseVersion takes back a version read at a fractional ms, as MemoryStore now does.
import { randomUUID } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { type Clock, systemClock } from '../../src/clock.js'
import { type Duration, parseDuration } from '../../src/duration.js'
import { optionNames } from '../../src/options.js'
import type {
  SharedStore,
  StoreLock,
  StoreRead,
  StoreRecord,
  StoreTouch,
  StoreWrite,
  StoreWriteResult,
} from '../../src/store.js'
import { checkKey, checkOptionNames } from '../../src/validate.js'

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most records held across all namespaces; the least recently used go first.
   * @default 100_000
   */
  maxEntries?: number
  /** Time source, injectable for tests. @default the system clock */
  clock?: Clock
  /**
   * How long a delete's tombstone is kept, and so how long a version stays
   * usable for a conditional write, in ms: a load that read more than this ago
   * can no longer write back. A record that expires sooner keeps its version
   * (without its bytes) this long after its write. Longer than any load you run.
   * @default 60_000
   */
  fenceMs?: Duration
  /**
   * Keep the values themselves, not their bytes ({@link SharedStore.keepsValues}):
   * for a store only one process's caches use, so each value is held once
   * and never encoded or decoded. Caches that share such a store share the
   * objects (treat them as immutable); read it through a cache, as its records
   * carry no codec bytes. A `TierCache` given no store makes one with this on.
   * @default false
   */
  keepValues?: boolean
}

const MEMORY_STORE_OPTION_NAMES = optionNames<MemoryStoreOptions>({
  maxEntries: true,
  clock: true,
  fenceMs: true,
  keepValues: true,
})

interface Held {
  readonly data: Uint8Array | undefined
  readonly staleAt: number
  readonly expiresAt: number
  /**
   * Until when the write's version is kept, at least `fenceMs` after the write: past
   * `expiresAt` the record reads as absent, but its version still refuses a load that read
   * before the write (a record that expired by its TTL leaves its version behind, as a delete
   * leaves a tombstone).
   */
  readonly versionUntil: number
  readonly staleMs: number | undefined
  /** Write id, unique in this store; part of the version. */
  readonly id: string
  /** A delete's tombstone: no record, only the version. */
  readonly deleted: boolean
  readonly resurrected: boolean
  readonly meta?: Uint8Array
  readonly tagged: boolean
  /** The value itself, in a store that keeps values. */
  readonly value?: unknown
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
 * ever share an object through it; with `keepValues`, as the values themselves.
 */
export class MemoryStore implements SharedStore {
  readonly name = 'memory'
  readonly #records: LRUCache<string, Held>
  readonly #generations = new Map<string, number>()
  readonly #locks = new Map<string, Holder>()
  readonly #clock: Clock
  readonly #fenceMs: number
  #writes = 0
  /** See {@link MemoryStoreOptions.keepValues}. */
  readonly keepsValues: boolean

  /** The lock: in-process, with waiters woken on release. */
  readonly lock: StoreLock

  constructor(options: MemoryStoreOptions = {}) {
    checkOptionNames(options, MEMORY_STORE_OPTION_NAMES, 'options')
    const max = options.maxEntries ?? 100_000
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError(`options.maxEntries must be a positive integer, got ${String(max)}`)
    }
    const fenceMs = parseDuration(options.fenceMs ?? 60_000, 'options.fenceMs')
    if (fenceMs === 0) throw new TypeError('options.fenceMs must be > 0, got 0')
    if (options.keepValues !== undefined && typeof options.keepValues !== 'boolean') {
      throw new TypeError(`options.keepValues must be a boolean, got ${String(options.keepValues)}`)
    }
    this.keepsValues = options.keepValues === true
    this.#records = new LRUCache({ max })
    this.#clock = options.clock ?? systemClock
    this.#fenceMs = fenceMs
    this.lock = {
      acquire: async (ns, key, leaseMs) => this.#acquire(this.#lockKey(ns, key), leaseMs),
      release: async (ns, key, token) => this.#release(this.#lockKey(ns, key), token),
      extend: async (ns, key, token, leaseMs) => this.#extend(this.#lockKey(ns, key), token, leaseMs),
      waitForRelease: (ns, key, timeoutMs) => this.#waitForRelease(this.#lockKey(ns, key), timeoutMs),
    }
  }

  async get(namespace: string, key: string): Promise<StoreRecord | undefined> {
    return this.#read(namespace, key).record
  }

  async getMany(namespace: string, keys: readonly string[]): Promise<(StoreRecord | undefined)[]> {
    return keys.map((key) => this.#read(namespace, key).record)
  }

  async read(namespace: string, key: string): Promise<StoreRead> {
    return this.#read(namespace, key)
  }

  async readMany(namespace: string, keys: readonly string[]): Promise<StoreRead[]> {
    return keys.map((key) => this.#read(namespace, key))
  }

  async set(namespace: string, key: string, write: StoreWrite): Promise<StoreWriteResult> {
    return this.#write(namespace, key, write, 'write')
  }

  async setMany(namespace: string, entries: readonly (readonly [string, StoreWrite])[]): Promise<StoreWriteResult[]> {
    return entries.map(([key, write], i) => this.#write(namespace, key, write, `entries[${i}][1]`))
  }

  async touch(namespace: string, key: string, touch: StoreTouch): Promise<StoreWriteResult> {
    const recordKey = this.#recordKey(namespace, key)
    const now = this.#clock.now()
    const held = this.#held(recordKey, now)
    const current = held?.id ?? ''
    const expected = parseVersion(touch.ifVersion, 'touch.ifVersion')
    const generation = this.#generations.get(namespace) ?? 0
    if (
      held === undefined ||
      held.deleted ||
      now >= held.expiresAt ||
      expected.generation !== generation ||
      now - expected.readAt >= this.#fenceMs ||
      expected.id !== current
    ) {
      return { applied: false, version: this.#version(namespace, now, current) }
    }
    const expiresAt = now + Math.max(touch.keepMs, touch.freshMs)
    this.#records.set(recordKey, {
      ...held,
      staleAt: now + touch.freshMs,
      expiresAt,
      versionUntil: Math.max(held.versionUntil, expiresAt, now + this.#fenceMs),
      resurrected: false,
    })
    return { applied: true, version: this.#version(namespace, now, current) }
  }

  /** Leaves a tombstone for `fenceMs` so a load that read before cannot write back. */
  async delete(namespace: string, key: string): Promise<StoreWriteResult> {
    const recordKey = this.#recordKey(namespace, key)
    const now = this.#clock.now()
    const id = this.#nextId()
    this.#records.set(recordKey, {
      data: undefined,
      staleAt: now,
      expiresAt: now + this.#fenceMs,
      versionUntil: now + this.#fenceMs,
      staleMs: undefined,
      id,
      deleted: true,
      resurrected: false,
      tagged: false,
    })
    return { applied: true, version: this.#version(namespace, now, id) }
  }

  /** O(1): the namespace moves to a new generation; old records age out of the LRU. */
  async purge(namespace: string): Promise<void> {
    checkKey(namespace, 'namespace')
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

  #read(namespace: string, key: string): StoreRead {
    const recordKey = this.#recordKey(namespace, key)
    const now = this.#clock.now()
    const held = this.#held(recordKey, now)
    const version = this.#version(namespace, now, held?.id ?? '')
    if (held === undefined || held.deleted || now >= held.expiresAt) return { record: undefined, version }
    const base: StoreRecord = { data: held.data, freshMs: held.staleAt - now, keepMs: held.expiresAt - now, version }
    const record = held.value === undefined ? base : { ...base, value: held.value }
    const withStale = held.staleMs === undefined ? record : { ...record, staleMs: held.staleMs }
    const withMeta = held.meta === undefined ? withStale : { ...withStale, meta: held.meta }
    const withTags: StoreRecord = held.tagged ? { ...withMeta, tagged: true } : withMeta
    return { record: held.resurrected ? { ...withTags, resurrected: true } : withTags, version }
  }

  /** The record or tombstone under `recordKey` while its version is kept (it may have expired: see `expiresAt`). */
  #held(recordKey: string, now: number): Held | undefined {
    const held = this.#records.get(recordKey)
    if (held === undefined || now < held.expiresAt) return held
    if (now < held.versionUntil) {
      // Expired: only the version is still needed; let the bytes go.
      if (held.data === undefined) return held
      const remnant = { ...held, data: undefined, value: undefined }
      this.#records.set(recordKey, remnant)
      return remnant
    }
    this.#records.delete(recordKey)
    return undefined
  }

  #write(namespace: string, key: string, write: StoreWrite, name: string): StoreWriteResult {
    const recordKey = this.#recordKey(namespace, key)
    const now = this.#clock.now()
    if (write.ifVersion !== undefined) {
      const current = this.#held(recordKey, now)?.id ?? ''
      const expected = parseVersion(write.ifVersion, `${name}.ifVersion`)
      const generation = this.#generations.get(namespace) ?? 0
      if (expected.generation !== generation || now - expected.readAt >= this.#fenceMs || expected.id !== current) {
        return { applied: false, version: this.#version(namespace, now, current) }
      }
    }
    const id = this.#nextId()
    const expiresAt = now + Math.max(write.keepMs, write.freshMs)
    this.#records.set(recordKey, {
      data: write.data,
      staleAt: now + write.freshMs,
      expiresAt,
      versionUntil: Math.max(expiresAt, now + this.#fenceMs),
      staleMs: write.staleMs,
      id,
      deleted: false,
      resurrected: write.resurrected === true,
      ...(write.meta === undefined ? {} : { meta: write.meta }),
      tagged: write.tagged === true,
      ...(this.keepsValues && write.value !== undefined ? { value: write.value } : {}),
    })
    return { applied: true, version: this.#version(namespace, now, id) }
  }

  #nextId(): string {
    return (++this.#writes).toString(36)
  }

  /** `<generation>.<read at>.<write id>`: the id is empty for a key never written (or expired). */
  #version(namespace: string, now: number, id: string): string {
    return `${this.#generations.get(namespace) ?? 0}.${now}.${id}`
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

/** A version this store issued, taken apart; a `TypeError` naming `name` for anything else. */
function parseVersion(version: unknown, name: string): { generation: number; readAt: number; id: string } {
  // The read time may be fractional (a clock reading `performance.now()`), so it may hold a dot
  // itself: the generation is before the first dot, the id (base 36) after the last.
  const text = typeof version === 'string' ? version : ''
  const first = text.indexOf('.')
  const last = text.lastIndexOf('.')
  const generation = Number(text.slice(0, first))
  const readAt = Number(text.slice(first + 1, last))
  if (first < 1 || last <= first + 1 || !Number.isInteger(generation) || !Number.isFinite(readAt)) {
    throw new TypeError(`${name} must be a version read from this store, got ${String(version)}`)
  }
  return { generation, readAt, id: text.slice(last + 1) }
}
