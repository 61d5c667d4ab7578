import { storeConformanceSuite } from '@tiercache/core/testing'
import { describe, expect, it } from 'vitest'
import { MemoryStore, TierCache } from '../src/index.js'

storeConformanceSuite('MemoryStore', { create: () => new MemoryStore(), toleranceMs: 5 })
storeConformanceSuite('MemoryStore keeping values', {
  create: () => new MemoryStore({ keepValues: true }),
  toleranceMs: 5,
})
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

describe('MemoryStore keepValues (issue 15: the default configuration held every value twice, once encoded)', () => {
  it('keeps the value itself and hands it back, only when asked to', async () => {
    const value = { id: 1 }
    const write = { data: new Uint8Array(0), freshMs: 1_000, keepMs: 1_000, value }
    const keeping = new MemoryStore({ keepValues: true })
    const plain = new MemoryStore()
    expect([keeping.keepsValues, plain.keepsValues]).toEqual([true, false])
    await keeping.set('ns', 'k', write)
    await plain.set('ns', 'k', write)
    expect((await keeping.get('ns', 'k'))?.value).toBe(value)
    expect((await plain.get('ns', 'k'))?.value).toBeUndefined()
    expect(() => new MemoryStore({ keepValues: 'yes' as unknown as boolean })).toThrow(/options\.keepValues/)
  })

  it('a TierCache given no store keeps one copy: L1 and the store hold the same object, never encoded', async () => {
    const made = { id: 1, tags: new Set(['a']) }
    const own = new TierCache<typeof made>({ name: 'once', lruSize: 1 })
    expect(own.store.keepsValues).toBe(true)
    const bytes = new TierCache<typeof made>({ name: 'twice', lruSize: 1, store: new MemoryStore() })
    for (const cache of [own, bytes]) {
      await cache.get('k', async () => made)
      await cache.get('other', async () => ({ id: 2, tags: new Set<string>() })) // evicts k from L1 (lruSize 1)
      expect(cache.peek('k')).toBeUndefined()
    }
    expect(await own.get('k')).toBe(made) // from the store: the very object
    const decoded = await bytes.get('k')
    expect(decoded).toEqual(made) // from the store's bytes: an equal copy
    expect(decoded).not.toBe(made)
  })
})
