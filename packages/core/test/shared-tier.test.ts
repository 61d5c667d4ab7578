import { ChaosStore } from '@tiercache/core/testing'
import { describe, expect, it } from 'vitest'
import { DecodeError, jsonCodec, MemoryStore, type SharedStore, StoreError, TierCache } from '../src/index.js'
import { cacheWithClock, countingLoader } from './fixtures.js'

describe('failing stores', () => {
  it.each(['throw', 'stall'] as const)(
    'a store that fails (%s) degrades to the loader and emits error',
    async (mode) => {
      const store = new ChaosStore(new MemoryStore())
      const c = new TierCache<string>({ name: 'chaos', store, storeTimeout: 50 })
      const errors: unknown[] = []
      c.on('error', (e) => errors.push(e))
      store.mode = mode
      const { loader, calls } = countingLoader(() => 'v')
      const started = Date.now()
      expect(await c.get('k', loader)).toBe('v')
      expect(Date.now() - started).toBeLessThan(1_000)
      expect(calls).toHaveLength(1)
      expect(errors.length).toBeGreaterThan(0)
      expect(errors.every((e) => e instanceof StoreError)).toBe(true)
      // L1 still serves what was loaded; a user's set/delete/purge rejects (docs/consistency.md, guarantee 3)
      expect(await c.get('k', loader)).toBe('v')
      await expect(c.set('k2', 'x')).rejects.toBeInstanceOf(StoreError)
      await expect(c.delete('k2')).rejects.toBeInstanceOf(StoreError)
      await expect(c.purge()).rejects.toBeInstanceOf(StoreError)
      expect(c.stats().storeErrors).toBeGreaterThan(0)
    },
  )

  it('a store that bounds its own calls (boundsCalls) gets no second timer from the cache', async () => {
    const inner = new MemoryStore()
    await new TierCache<string>({ name: 'bounded', store: inner }).set('k', 'stored')
    const slow = Object.assign(Object.create(inner) as MemoryStore, {
      boundsCalls: true,
      read: async (ns: string, key: string) => {
        await new Promise((resolve) => setTimeout(resolve, 80))
        return inner.read(ns, key)
      },
    })
    const c = new TierCache<string>({ name: 'bounded', store: slow, storeTimeout: 10 })
    const errors: unknown[] = []
    c.on('error', (e) => errors.push(e))
    expect(await c.get('k', async () => 'loaded')).toBe('stored')
    expect(errors).toEqual([])
  })

  it('undecodable bytes in the store are a miss and a DecodeError event, not a throw', async () => {
    const store = new MemoryStore()
    await store.set('dec', 'k', { data: new TextEncoder().encode('{not json'), freshMs: 10_000, keepMs: 10_000 })
    const c = new TierCache<string>({ name: 'dec', store, codec: jsonCodec() })
    const errors: unknown[] = []
    c.on('error', (e) => errors.push(e))
    expect(await c.get('k', async () => 'loaded')).toBe('loaded')
    expect(errors[0]).toBeInstanceOf(DecodeError)
  })
})

describe('store contract extras', () => {
  it("applies the writer's per-entry stale window on every reader", async () => {
    const { cache: a, clock, store } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 0 })
    const b = new TierCache<string>({ name: 'test', store, clock, ttl: 1_000, staleTtl: 0 })
    await a.get('k', (_key, ctx) => {
      ctx.staleTtl = 10_000
      return 'old'
    })
    clock.advance(5_000)
    expect(await b.getWithInfo('k', async () => 'new')).toMatchObject({ value: 'old', hitLevel: 4 })
  })

  it('re-emits errors the store absorbs itself, and stops on close', async () => {
    const { EventEmitter } = await import('eventemitter3')
    const emitter = new EventEmitter()
    const store = Object.assign(new MemoryStore(), {
      on: (e: string, fn: (...a: unknown[]) => void) => emitter.on(e, fn),
      off: (e: string, fn: (...a: unknown[]) => void) => emitter.off(e, fn),
    })
    const cache = new TierCache<string>({ name: 'fwd', store })
    const seen: unknown[] = []
    cache.on('error', (error, key) => seen.push([error.message, key]))
    emitter.emit('error', Object.assign(new DecodeError('k', new Error('bad bytes')), { key: 'k' }))
    emitter.emit('error', Object.assign(new DecodeError('k', new Error('not ours')), { namespace: 'other' }))
    emitter.emit('error', Object.assign(new DecodeError('j', new Error('ours')), { namespace: 'fwd' }))
    expect(seen).toEqual([
      [expect.stringContaining('bad bytes'), 'k'],
      [expect.stringContaining('ours'), 'j'],
    ])
    cache.close()
    expect(emitter.listenerCount('error')).toBe(0)
  })

  it('a store without a lock: each cache loads for itself and none waits', async () => {
    const inner = new MemoryStore()
    const store: SharedStore = {
      name: 'no-lock',
      get: (ns, key) => inner.get(ns, key),
      getMany: (ns, keys) => inner.getMany(ns, keys),
      set: (ns, key, write) => inner.set(ns, key, write),
      setMany: (ns, entries) => inner.setMany(ns, entries),
      delete: (ns, key) => inner.delete(ns, key),
      purge: (ns) => inner.purge(ns),
    }
    const a = new TierCache<string>({ name: 'x', store })
    const b = new TierCache<string>({ name: 'x', store })
    const slow = countingLoader(() => 'v', 30)
    expect(await Promise.all([a.get('k', slow.loader), b.get('k', slow.loader)])).toEqual(['v', 'v'])
    expect(slow.calls).toHaveLength(2)
    expect(a.store).toBe(store)
  })
})
