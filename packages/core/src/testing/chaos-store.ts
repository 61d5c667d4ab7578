import type { SharedStore, StoreLock, StoreRead, StoreRecord, StoreWrite, StoreWriteResult } from '../store.js'

/** How a {@link ChaosStore} misbehaves right now. */
export type ChaosMode = 'ok' | 'throw' | 'stall'

/**
 * Wraps a store and makes it fail or stall on demand, to test that a cache
 * degrades to the next level (as bentocache's chaos helpers do). `stall` never
 * settles: only the cache's own time-outs can save the caller.
 */
export class ChaosStore implements SharedStore {
  readonly name: string
  /** Current behaviour; change it at any time. */
  mode: ChaosMode = 'ok'
  /** Calls made through this wrapper, by operation. */
  readonly calls = new Map<string, number>()
  readonly lock?: StoreLock
  readonly #inner: SharedStore

  constructor(inner: SharedStore) {
    this.#inner = inner
    this.name = `chaos(${inner.name})`
    const lock = inner.lock
    if (lock) {
      this.lock = {
        acquire: (ns, key, lease) => this.#call('acquire', () => lock.acquire(ns, key, lease)),
        release: (ns, key, token) => this.#call('release', () => lock.release(ns, key, token)),
        waitForRelease: (ns, key, ms) => this.#call('waitForRelease', () => lock.waitForRelease(ns, key, ms)),
        ...(lock.extend
          ? {
              extend: (ns: string, key: string, token: string, lease: number) =>
                this.#call('extend', () => lock.extend!(ns, key, token, lease)),
            }
          : {}),
      }
    }
  }

  /** Total calls of one operation. */
  count(operation: string): number {
    return this.calls.get(operation) ?? 0
  }

  get(ns: string, key: string): Promise<StoreRecord | undefined> {
    return this.#call('get', () => this.#inner.get(ns, key))
  }
  getMany(ns: string, keys: readonly string[]): Promise<(StoreRecord | undefined)[]> {
    return this.#call('getMany', () => this.#inner.getMany(ns, keys))
  }
  read(ns: string, key: string): Promise<StoreRead> {
    return this.#call('read', () => this.#inner.read(ns, key))
  }
  readMany(ns: string, keys: readonly string[]): Promise<StoreRead[]> {
    return this.#call('readMany', () => this.#inner.readMany(ns, keys))
  }
  set(ns: string, key: string, write: StoreWrite): Promise<StoreWriteResult> {
    return this.#call('set', () => this.#inner.set(ns, key, write))
  }
  setMany(ns: string, entries: readonly (readonly [string, StoreWrite])[]): Promise<StoreWriteResult[]> {
    return this.#call('setMany', () => this.#inner.setMany(ns, entries))
  }
  delete(ns: string, key: string): Promise<StoreWriteResult> {
    return this.#call('delete', () => this.#inner.delete(ns, key))
  }
  purge(ns: string): Promise<void> {
    return this.#call('purge', () => this.#inner.purge(ns))
  }

  #call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1)
    if (this.mode === 'throw') return Promise.reject(new Error(`chaos: ${operation} failed`))
    if (this.mode === 'stall') return new Promise<T>(() => {})
    return run()
  }
}
