import { describe, expect, it } from 'vitest'
import {
  type InvalidationBus,
  type InvalidationHandler,
  MemoryStore,
  type SharedStore,
  TierCache,
} from '../src/index.js'

/** A bus that delivers nothing and lets the test say when it last proved it delivers everything. */
function silentBus() {
  const handlers: InvalidationHandler[] = []
  const bus: InvalidationBus = {
    publish: () => undefined,
    subscribe: (_namespace, handler) => {
      handlers.push(handler)
      return () => {}
    },
  }
  return { bus, confirm: (ageMs: number, maxStalenessMs: number) => handlers[0]!.confirmed!(ageMs, maxStalenessMs) }
}

function countingStore(): { store: SharedStore; reads: () => number } {
  const inner = new MemoryStore()
  let reads = 0
  // Every method of the real store, bound to it; single-key reads counted.
  const store = new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        if (property === 'get' || property === 'read') reads++
        return value.apply(target, args)
      }
    },
  }) as SharedStore
  return { store, reads: () => reads }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('L1 trust on the read path (a bus with heartbeats)', () => {
  it('serves L1 while the bus vouches for it, and re-reads the store once its confirmation is older than maxStaleness', async () => {
    const { bus, confirm } = silentBus()
    const { store, reads } = countingStore()
    const cache = new TierCache<string>({ name: 'trust', store, ipc: bus, ttl: 60_000 })
    await cache.set('k', 'v')
    confirm(0, 100)
    expect(await cache.get('k')).toBe('v')
    expect(reads()).toBe(0) // an L1 hit

    // No confirmation for longer than the bound (a paused process, a blocked loop): every read goes
    // to the store, on the hot path too, before the bus had any chance to deliver what it holds.
    await sleep(150)
    expect(await cache.get('k')).toBe('v')
    expect(await cache.getWithInfo('k')).toMatchObject({ hitLevel: 2 })
    expect(reads()).toBe(2)
    expect(cache.getFresh('k')).toBeUndefined() // the synchronous hot path trusts L1 no longer either

    // Confirmed again: L1 is trusted again.
    confirm(0, 100)
    expect(await cache.getWithInfo('k')).toMatchObject({ hitLevel: 1 })
    expect(cache.getFresh('k')).toBe('v')
    expect(reads()).toBe(2)
  })

  it('counts from when the confirming heartbeat left, not from when it came back', async () => {
    const { bus, confirm } = silentBus()
    const { store, reads } = countingStore()
    const cache = new TierCache<string>({ name: 'trust-age', store, ipc: bus })
    await cache.set('k', 'v')
    confirm(100, 100) // left 100 ms ago: already at the bound
    expect(await cache.getWithInfo('k')).toMatchObject({ hitLevel: 2 })
    expect(reads()).toBe(1)
  })
})
