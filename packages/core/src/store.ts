/**
 * The contract between the core and a shared (L2) store.
 *
 * A store holds encoded records for many caches at once, separated by namespace.
 * Times cross this boundary as *remaining* milliseconds, never as wall-clock
 * timestamps: the store measures them with its own clock (Redis: PTTL), so
 * hosts whose clocks disagree still agree on what is fresh.
 *
 * Writes are fenced (docs/consistency.md, "The shared store"): every record
 * carries a write version. A load reads with {@link SharedStore.read}, which
 * returns the version even for a missing key, and writes back with
 * `ifVersion`; the store applies that write only if nothing was written,
 * deleted or purged since the read, checked atomically with the write. So once
 * an unconditional `set`, `delete` or `purge` resolves, no load that read
 * before it can overwrite it in the store.
 */

import type { Announcement } from './invalidation.js'

/**
 * A write version as the store hands it out: opaque, compared only by the
 * store that issued it. It names the record (or the absence of one, or the
 * delete that left a tombstone), the namespace generation it was read at, and
 * when it was read, by the store's clock.
 */
export type StoreVersion = string

/** What the core asks a store to keep. */
export interface StoreWrite {
  /** Encoded value; `undefined` for a cached miss (negative entry). */
  readonly data: Uint8Array | undefined
  /** Milliseconds the record is fresh. `Infinity` = never goes stale. */
  readonly freshMs: number
  /**
   * Milliseconds the record must stay findable, `>= freshMs`: fresh time plus the
   * stale / resurrect window. The store deletes it after this (Redis: PX).
   * `Infinity` = kept until deleted or evicted.
   */
  readonly keepMs: number
  /**
   * The stale window the writer chose (ms after `freshMs` during which the value
   * is served stale while one caller refreshes). Stores keep it so every reader
   * applies the writer's per-entry window, e.g. an HTTP `stale-while-revalidate`.
   */
  readonly staleMs?: number
  /**
   * Write only if the key still has this version (from {@link SharedStore.read}
   * or a {@link StoreWriteResult}): nothing was written, deleted or purged
   * since. A load or refresh passes it; `set` by a user does not. Refused
   * (`applied: false`, not an error) otherwise, and also when the version was
   * read more than the store's fence window ago (`fenceMs`), since the
   * tombstone of a delete is kept only that long.
   */
  readonly ifVersion?: StoreVersion
  /**
   * The value is an old one re-armed after a failed load (mlcache's resurrect),
   * not a fresh load: every reader reports it as resurrected. Stores keep it
   * and return it as {@link StoreRecord.resurrected}.
   */
  readonly resurrected?: true
  /**
   * Publish this invalidation with the write, atomically, and only if the
   * write applied. The core passes it only to a store whose
   * {@link SharedStore.announces} accepted it.
   */
  readonly announce?: Announcement
  /**
   * What the loader stored beside the value (`ctx.meta`, e.g. an ETag),
   * encoded by the cache's codec. Stores keep it and return it as
   * {@link StoreRecord.meta}.
   */
  readonly meta?: Uint8Array
  /**
   * The data carries the entry's tags in front of the codec's bytes (framed
   * by the core). Stores keep the mark and return it as
   * {@link StoreRecord.tagged}; the data itself is opaque to them.
   */
  readonly tagged?: true
  /**
   * The value itself, given only to a store that keeps values
   * ({@link SharedStore.keepsValues}); `data` then holds no codec bytes
   * (empty, or only the tags' frame). Such a store keeps it and returns it as
   * {@link StoreRecord.value}.
   */
  readonly value?: unknown
}

/** What a `delete` or `purge` may carry besides its key. */
export interface StoreChange {
  /** Publish this invalidation with the change, atomically (see {@link StoreWrite.announce}). */
  readonly announce?: Announcement
}

/**
 * A TTL extension of the record a load read (`touch`): the loader answered
 * "not modified", so the record is fresh again, bytes untouched.
 */
export interface StoreTouch {
  /** Milliseconds the record is fresh from now. `Infinity` = never goes stale. */
  readonly freshMs: number
  /** Milliseconds it stays findable from now, `>= freshMs`. `Infinity` = until deleted or evicted. */
  readonly keepMs: number
  /**
   * The version the load read: the touch applies only if the key still holds
   * a record at that version (read within the fence window). A key written,
   * deleted, purged or expired since is refused: a "not modified" answer must
   * never bring back a value that is gone.
   */
  readonly ifVersion: StoreVersion
}

/** What a write did. */
export interface StoreWriteResult {
  /** `false`: a conditional write found another version and wrote nothing. */
  readonly applied: boolean
  /**
   * The key's version after the call: the one written when applied, the one
   * found when refused. Usable as the next `ifVersion`; a refused writer
   * should rather re-read, since it does not hold the data of that version.
   */
  readonly version: StoreVersion
}

/** A fenced read: the record, if any, and the version a load must write back with. */
export interface StoreRead {
  /** The record, or `undefined` when absent, deleted, purged, or unreadable. */
  readonly record: StoreRecord | undefined
  /** The key's version now, also when it holds no record (absent or deleted). */
  readonly version: StoreVersion
}

/** What a store returns for a key it holds. */
export interface StoreRecord {
  /** Encoded value; `undefined` for a cached miss. */
  readonly data: Uint8Array | undefined
  /** Milliseconds until stale, by the store's clock; `<= 0` when already stale; `Infinity` = never. */
  readonly freshMs: number
  /** Milliseconds until the store drops it; `Infinity` = never. Always `> 0`. */
  readonly keepMs: number
  /** The writer's stale window ({@link StoreWrite.staleMs}), when it was given. */
  readonly staleMs?: number
  /** The record's write version (see {@link StoreRead.version}). */
  readonly version: StoreVersion
  /** Written as a resurrected value ({@link StoreWrite.resurrected}). */
  readonly resurrected?: true
  /** What the writer stored beside the value ({@link StoreWrite.meta}). */
  readonly meta?: Uint8Array
  /** Written with tags ({@link StoreWrite.tagged}). */
  readonly tagged?: true
  /** The value itself, from a store that keeps values ({@link SharedStore.keepsValues}): used as is, not decoded. */
  readonly value?: unknown
}

/**
 * A distributed lock so only one process in the fleet runs the loader for a key.
 * Leases make a crashed holder harmless: its lock frees itself after `leaseMs`.
 */
export interface StoreLock {
  /**
   * Try once to take the lock on `key`. Resolves to an owner token when taken,
   * `undefined` when another owner holds it. Never waits for the holder.
   */
  acquire(namespace: string, key: string, leaseMs: number): Promise<string | undefined>
  /** Release the lock if `token` still owns it (compare-and-delete). Resolves `true` when it did. */
  release(namespace: string, key: string, token: string): Promise<boolean>
  /** Extend the lease if `token` still owns it. Resolves `true` when it did. */
  extend?(namespace: string, key: string, token: string, leaseMs: number): Promise<boolean>
  /**
   * Wait until the holder of `key`'s lock releases it (a value landed, or the
   * load failed) or `timeoutMs` passes. Resolves `true` when woken, `false` on
   * time-out. Must not poll faster than a bounded backoff and must never hang
   * past `timeoutMs`.
   */
  waitForRelease(namespace: string, key: string, timeoutMs: number): Promise<boolean>
}

/** The state of a store's circuit breaker: `open` while calls are refused without trying. */
export type CircuitState = 'closed' | 'open' | 'half-open'

/** What a store says about itself from {@link SharedStore.health}. */
export interface StoreHealth {
  /** The store answered. */
  readonly ok: boolean
  /** Its circuit breaker's state after the check, when it has one. */
  readonly circuit?: CircuitState
  /** Why it is not ok. */
  readonly error?: string
}

/**
 * A shared (L2) store. Implementations: `MemoryStore` (embedded default),
 * `RedisStore` from `@tiercache/redis`. Run `storeConformanceSuite` from
 * `@tiercache/core/testing` against every implementation.
 *
 * Keys arrive as the user gave them (any non-empty string); a store must make
 * sure no key of one namespace can name a record of another.
 */
export interface SharedStore {
  /** A short name for events and errors, e.g. `"memory"`, `"redis"`. */
  readonly name: string
  /** Read one record, or `undefined` when absent (or unreadable: report, do not throw). */
  get(namespace: string, key: string): Promise<StoreRecord | undefined>
  /** Read many records in ONE round trip; the result is in the order of `keys`. */
  getMany(namespace: string, keys: readonly string[]): Promise<(StoreRecord | undefined)[]>
  /**
   * Read one key with its version, also when absent: what a load or refresh
   * reads before calling the loader, to write back with `ifVersion`.
   */
  read(namespace: string, key: string): Promise<StoreRead>
  /** {@link read} for many keys in ONE round trip, in the order of `keys`. */
  readMany(namespace: string, keys: readonly string[]): Promise<StoreRead[]>
  /**
   * Write one record: unconditionally, or with `write.ifVersion` only if the
   * key is still at that version (atomic with the write). Rejects with a
   * `StoreError` when the write failed; a `StoreCallError` says whether it
   * may still have landed (`outcome: 'unknown'`) or certainly did not.
   */
  set(namespace: string, key: string, write: StoreWrite): Promise<StoreWriteResult>
  /** Write many records, in one round trip where the store can; one result per entry, in order. */
  setMany(
    namespace: string,
    entries: readonly (readonly [key: string, write: StoreWrite])[],
  ): Promise<StoreWriteResult[]>
  /**
   * Make the record of `key` fresh again without rewriting it (a conditional
   * refresh answered "not modified"): only if it is still at
   * `touch.ifVersion` and held (see {@link StoreTouch.ifVersion}); its data,
   * meta and stale window stay, its resurrected mark goes, its version stays.
   * Optional: without it the cache rewrites the record with `set` and `ifVersion`.
   */
  touch?(namespace: string, key: string, touch: StoreTouch): Promise<StoreWriteResult>
  /**
   * Delete one record, leaving a tombstone that carries a new version for the
   * store's fence window, so a load that read before the delete cannot
   * write its older value back.
   */
  delete(namespace: string, key: string, change?: StoreChange): Promise<StoreWriteResult>
  /**
   * Make every record of `namespace` unreachable in O(1) (a generation bump,
   * not a scan). Other namespaces are untouched. Versions read before the
   * purge no longer match anything: conditional writes with them are refused.
   */
  purge(namespace: string, change?: StoreChange): Promise<void>
  /**
   * Optional: whether the store can publish `announcement` itself, in the same
   * atomic step as a `set`, `delete` or `purge` (its `announce`), so that the
   * invalidation cannot be lost with the writing process. RedisStore: when the
   * bus publishes through the store's own client (and not sharded on a Cluster).
   */
  announces?(announcement: Announcement): boolean
  /** The distributed lock, when the store offers one. */
  readonly lock?: StoreLock
  /**
   * True when the store bounds every call itself (RedisStore: a per-command
   * time-out and a circuit breaker). The cache then does not race a timer of
   * its own (`storeTimeout`) against each call: one promise and one timer less
   * per read. A store that says so and stalls anyway stalls its callers.
   */
  readonly boundsCalls?: boolean
  /**
   * True when the store keeps the values themselves rather than their bytes:
   * an in-process store private to its cache (the `MemoryStore` a `TierCache`
   * makes when given none). The cache then hands each value over with its
   * write ({@link StoreWrite.value}) instead of encoding it, and takes it back
   * on reads instead of decoding it: the process holds each value once, and
   * the same object is in L1 and in the store.
   */
  readonly keepsValues?: boolean
  /**
   * The state of the store's circuit breaker, when it has one (RedisStore).
   * Read by `cache.health()` and by `@tiercache/metrics`.
   */
  readonly circuit?: CircuitState
  /**
   * Check the store now (one round trip, e.g. a PING). Without it,
   * `cache.health()` reads one key. Must not throw: report in the result.
   */
  health?(): Promise<StoreHealth>
  /** Release connections or timers the store owns. */
  close?(): Promise<void>
  /**
   * Failures the store absorbs itself (a malformed record read as a miss, a
   * lost subscriber connection) rather than reject with. A `TierCache` given
   * this store re-emits them on its own `error` event — all of them, or only
   * its own namespace's when the error carries a `namespace`.
   */
  on?(event: 'error', listener: (error: Error & { key?: string; namespace?: string }) => void): unknown
  /** Removes a listener added with `on`. */
  off?(event: 'error', listener: (error: Error & { key?: string; namespace?: string }) => void): unknown
}

const storeMethods = ['get', 'getMany', 'set', 'setMany', 'delete', 'purge'] as const
const lockMethods = ['acquire', 'release', 'waitForRelease'] as const

/**
 * Throws a `TypeError` naming `argName` unless `value` has the methods of a
 * {@link SharedStore} (and of a {@link StoreLock} when it has a `lock`): a
 * store that is not one would make every call fail quietly later.
 */
export function checkStore(value: unknown, argName: string): asserts value is SharedStore {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${argName} must be a SharedStore, got ${value === null ? 'null' : typeof value}`)
  }
  const store = value as Record<string, unknown>
  const missing = storeMethods.filter((method) => typeof store[method] !== 'function')
  if (missing.length > 0) {
    throw new TypeError(`${argName} must be a SharedStore; it has no ${missing.join(', ')} method`)
  }
  if (store.lock === undefined) return
  const lock = store.lock as Record<string, unknown> | null
  const missingLock = lockMethods.filter((method) => typeof lock?.[method] !== 'function')
  if (missingLock.length > 0) {
    throw new TypeError(`${argName}.lock must be a StoreLock; it has no ${missingLock.join(', ')} method`)
  }
}
