import { storeConformanceSuite } from '@tiercache/core/testing'
import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../src/index.js'

storeConformanceSuite('MemoryStore', { create: () => new MemoryStore(), toleranceMs: 5 })
storeConformanceSuite('MemoryStore with a 300 ms fence window', {
  // Given as a string: the suite's fence checks then prove '300ms' is 300 ms.
  create: () => new MemoryStore({ fenceMs: '300ms' }),
  toleranceMs: 5,
  fenceMs: 300,
})

describe('MemoryStore', () => {
  it('rejects a bad maxEntries with a TypeError naming it', () => {
    expect(() => new MemoryStore({ maxEntries: 0 })).toThrow(/maxEntries/)
    expect(() => new MemoryStore({ fenceMs: -1 })).toThrow(/options\.fenceMs/)
  })

  it('purge is O(1): it moves to a new generation instead of scanning', async () => {
    const store = new MemoryStore()
    const write = { data: new Uint8Array([1]), freshMs: 10_000, keepMs: 10_000 }
    for (let i = 0; i < 10_000; i++) await store.set('ns', `k${i}`, write)
    const started = performance.now()
    await store.purge('ns')
    // The records are still there (aged out by the LRU later), unreachable.
    expect(store.size).toBe(10_000)
    expect(await store.get('ns', 'k1')).toBeUndefined()
    expect(performance.now() - started).toBeLessThan(50)
  })

  it('bounds what it holds', async () => {
    const store = new MemoryStore({ maxEntries: 10 })
    for (let i = 0; i < 100; i++) await store.set('ns', `k${i}`, { data: undefined, freshMs: 1e4, keepMs: 1e4 })
    expect(store.size).toBe(10)
    expect(await store.get('ns', 'k99')).toBeDefined()
    expect(await store.get('ns', 'k0')).toBeUndefined()
  })
})
