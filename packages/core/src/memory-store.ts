import { randomUUID } from 'node:crypto'
import { type Clock, checkClock, systemClock } from './clock.js'
import { type Duration, parseDuration } from './duration.js'
import { type Held, MemoryRecords, type RecordIndex } from './memory-records.js'
import { optionNames } from './options.js'
import type {
  SharedStore,
  StoreLock,
  StoreRead,
  StoreRecord,
  StoreTouch,
  StoreWrite,
  StoreWriteResult,
} from './store.js'
import { checkKey, checkOptionNames } from './validate.js'

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

/** A namespace's current generation and the index of its records (a purge starts both anew). */
interface Generation {
  readonly generation: number
  readonly index: RecordIndex
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
  readonly #records: MemoryRecords
  /** Namespaces written or purged; a namespace absent here is at generation 0 with no records. */
  readonly #generations = new Map<string, Generation>()
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
    checkClock(options.clock, 'options.clock')
    this.keepsValues = options.keepValues === true
    this.#records = new MemoryRecords(max)
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
    checkArray(keys, 'keys must be an array of strings')
    return keys.map((key) => this.#read(namespace, key).record)
  }

  async read(namespace: string, key: string): Promise<StoreRead> {
    return this.#read(namespace, key)
  }

  async readMany(namespace: string, keys: readonly string[]): Promise<StoreRead[]> {
    checkArray(keys, 'keys must be an array of strings')
    return keys.map((key) => this.#read(namespace, key))
  }

  async set(namespace: string, key: string, write: StoreWrite): Promise<StoreWriteResult> {
    checkWrite(write, 'write')
    return this.#write(namespace, key, write, 'write')
  }

  async setMany(namespace: string, entries: readonly (readonly [string, StoreWrite])[]): Promise<StoreWriteResult[]> {
    // Every entry checked before any is written, as RedisStore does: a bad one must not leave the others half done.
    checkArray(entries, 'entries must be an array of [key, write] pairs')
    for (const [i, [key, write]] of entries.entries()) {
      checkKeys(namespace, key)
      checkWrite(write, `entries[${i}][1]`)
      if (write.ifVersion !== undefined) parseVersion(write.ifVersion, `entries[${i}][1].ifVersion`)
    }
    return entries.map(([key, write], i) => this.#write(namespace, key, write, `entries[${i}][1]`))
  }

  async touch(namespace: string, key: string, touch: StoreTouch): Promise<StoreWriteResult> {
    checkKeys(namespace, key)
    if (typeof touch !== 'object' || touch === null) throw new TypeError('touch must be a StoreTouch object')
    checkTimes(touch, 'touch')
    const at = this.#generations.get(namespace)
    const now = this.#clock.now()
    const held = this.#held(at?.index, key, now)
    const current = versionId(held)
    const expected = parseVersion(touch.ifVersion, 'touch.ifVersion')
    if (
      held === undefined ||
      held.deleted ||
      now >= held.expiresAt ||
      expected.generation !== (at?.generation ?? 0) ||
      now - expected.readAt >= this.#fenceMs ||
      expected.id !== current
    ) {
      return { applied: false, version: this.#version(at, now, current) }
    }
    const expiresAt = now + Math.max(touch.keepMs, touch.freshMs)
    // A record is held only in a namespace written before, so `at` is there.
    this.#records.set(at!.index, key, {
      ...held,
      staleAt: now + touch.freshMs,
      expiresAt,
      versionUntil: Math.max(held.versionUntil, expiresAt, now + this.#fenceMs),
      resurrected: false,
    })
    return { applied: true, version: this.#version(at, now, current) }
  }

  /** Leaves a tombstone for `fenceMs` so a load that read before cannot write back. */
  async delete(namespace: string, key: string): Promise<StoreWriteResult> {
    checkKeys(namespace, key)
    const at = this.#generationToWrite(namespace)
    const now = this.#clock.now()
    const id = ++this.#writes
    this.#records.set(at.index, key, {
      data: undefined,
      staleAt: now,
      expiresAt: now + this.#fenceMs,
      versionUntil: now + this.#fenceMs,
      staleMs: undefined,
      id,
      deleted: true,
      resurrected: false,
      meta: undefined,
      tagged: false,
      value: undefined,
    })
    return { applied: true, version: this.#version(at, now, id.toString(36)) }
  }

  /** O(1): the namespace moves to a new generation, with an index of its own; old records age out of the LRU. */
  async purge(namespace: string): Promise<void> {
    checkKey(namespace, 'namespace')
    const generation = (this.#generations.get(namespace)?.generation ?? 0) + 1
    this.#generations.set(namespace, { generation, index: new Map() })
  }

  /** Number of records held (all generations), for tests and diagnostics. */
  get size(): number {
    return this.#records.size
  }

  /** The current generation of `namespace`, made (at 0) if it was never written or purged. */
  #generationToWrite(namespace: string): Generation {
    let at = this.#generations.get(namespace)
    if (at === undefined) {
      at = { generation: 0, index: new Map() }
      this.#generations.set(namespace, at)
    }
    return at
  }

  #lockKey(namespace: string, key: string): string {
    checkKeys(namespace, key)
    // Length-prefixing the namespace keeps "a:b" + "c" apart from "a" + "b:c".
    return `${namespace.length}:${namespace}:${key}`
  }

  #read(namespace: string, key: string): StoreRead {
    checkKeys(namespace, key)
    const at = this.#generations.get(namespace)
    const now = this.#clock.now()
    const held = this.#held(at?.index, key, now)
    const version = this.#version(at, now, versionId(held))
    if (held === undefined || held.deleted || now >= held.expiresAt) return { record: undefined, version }
    const base: StoreRecord = { data: held.data, freshMs: held.staleAt - now, keepMs: held.expiresAt - now, version }
    const record = held.value === undefined ? base : { ...base, value: held.value }
    const withStale = held.staleMs === undefined ? record : { ...record, staleMs: held.staleMs }
    const withMeta = held.meta === undefined ? withStale : { ...withStale, meta: held.meta }
    const withTags: StoreRecord = held.tagged ? { ...withMeta, tagged: true } : withMeta
    return { record: held.resurrected ? { ...withTags, resurrected: true } : withTags, version }
  }

  /** The record or tombstone of `key` while its version is kept (it may have expired: see `expiresAt`). */
  #held(index: RecordIndex | undefined, key: string, now: number): Held | undefined {
    const held = this.#records.get(index, key)
    if (held === undefined || now < held.expiresAt) return held
    if (now < held.versionUntil) {
      // Expired: only the version is still needed; let the bytes go.
      if (held.data === undefined) return held
      const remnant = { ...held, data: undefined, value: undefined }
      this.#records.set(index!, key, remnant)
      return remnant
    }
    this.#records.delete(index, key)
    return undefined
  }

  #write(namespace: string, key: string, write: StoreWrite, name: string): StoreWriteResult {
    checkKeys(namespace, key)
    const at = this.#generationToWrite(namespace)
    const now = this.#clock.now()
    if (write.ifVersion !== undefined) {
      const current = versionId(this.#held(at.index, key, now))
      const expected = parseVersion(write.ifVersion, `${name}.ifVersion`)
      if (expected.generation !== at.generation || now - expected.readAt >= this.#fenceMs || expected.id !== current) {
        return { applied: false, version: this.#version(at, now, current) }
      }
    }
    const id = ++this.#writes
    const expiresAt = now + Math.max(write.keepMs, write.freshMs)
    this.#records.set(at.index, key, {
      data: write.data,
      staleAt: now + write.freshMs,
      expiresAt,
      versionUntil: Math.max(expiresAt, now + this.#fenceMs),
      staleMs: write.staleMs,
      id,
      deleted: false,
      resurrected: write.resurrected === true,
      meta: write.meta,
      tagged: write.tagged === true,
      value: this.keepsValues ? write.value : undefined,
    })
    return { applied: true, version: this.#version(at, now, id.toString(36)) }
  }

  /** `<generation>.<read at>.<write id>`: the id is empty for a key never written (or expired). */
  #version(at: Generation | undefined, now: number, id: string): string {
    return `${at?.generation ?? 0}.${now}.${id}`
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

/**
 * The write id of `held` as it appears in a version: base 36, built only when
 * a version is (a record keeps it as a number); empty for no record.
 */
function versionId(held: Held | undefined): string {
  return held === undefined ? '' : held.id.toString(36)
}

/**
 * A `TypeError` naming `name` unless `write` is a well-formed {@link StoreWrite}
 * (RedisStore's checks): a NaN time was taken as an applied write that then read
 * as absent, and `keepMs < freshMs` was silently raised to `freshMs`.
 */
function checkWrite(write: StoreWrite, name: string): void {
  if (typeof write !== 'object' || write === null) throw new TypeError(`${name} must be a StoreWrite object`)
  if (write.data !== undefined && !(write.data instanceof Uint8Array)) {
    throw new TypeError(`${name}.data must be a Uint8Array or undefined`)
  }
  if (write.meta !== undefined && !(write.meta instanceof Uint8Array)) {
    throw new TypeError(`${name}.meta must be a Uint8Array or undefined`)
  }
  checkTimes(write, name)
  const { staleMs } = write
  if (staleMs !== undefined && (typeof staleMs !== 'number' || Number.isNaN(staleMs) || staleMs < 0)) {
    throw new TypeError(`${name}.staleMs must be a number >= 0 or undefined`)
  }
}

function checkTimes({ freshMs, keepMs }: { readonly freshMs: number; readonly keepMs: number }, name: string): void {
  if (typeof freshMs !== 'number' || Number.isNaN(freshMs)) throw new TypeError(`${name}.freshMs must be a number`)
  if (typeof keepMs !== 'number' || Number.isNaN(keepMs) || keepMs < freshMs) {
    throw new TypeError(`${name}.keepMs must be a number >= freshMs`)
  }
}

function checkArray(items: unknown, message: string): void {
  if (!Array.isArray(items)) throw new TypeError(message)
}

function checkKeys(namespace: string, key: string): void {
  checkKey(namespace, 'namespace')
  checkKey(key)
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
