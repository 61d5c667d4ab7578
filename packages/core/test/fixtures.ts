import { type Clock, MemoryStore, type SharedStore, TierCache, type TierCacheOptions } from '../src/index.js'

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  t = 1_000_000
  now(): number {
    return this.t
  }
  advance(ms: number): void {
    this.t += ms
  }
}

/** A cache on a MemoryStore that shares the manual clock, so time moves for both levels at once. */
export function cacheWithClock<V>(options: TierCacheOptions<V> = {}) {
  const clock = new ManualClock()
  const store: SharedStore = options.store ?? new MemoryStore({ clock })
  const cache = new TierCache<V>({ name: 'test', ...options, store, clock })
  return { cache, clock, store }
}

/** A loader that counts its calls and can be slowed down or made to fail. */
export function countingLoader<V>(value: (key: string, call: number) => V, delayMs = 0) {
  const calls: string[] = []
  let failWith: unknown
  const loader = async (key: string) => {
    calls.push(key)
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
    if (failWith !== undefined) throw failWith
    return value(key, calls.length)
  }
  return {
    loader,
    calls,
    fail(error: unknown = new Error('origin down')) {
      failWith = error
    },
    recover() {
      failWith = undefined
    },
  }
}

export const tick = () => new Promise((resolve) => setImmediate(resolve))

/** Wait until `check` holds or `ms` passes. */
export async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
