import { ChaosStore } from '@tiercache/core/testing'
import { describe, expect, it, vi } from 'vitest'
import { jsonCodec, MemoryStore, TierCache } from '../src/index.js'
import { cacheWithClock, countingLoader, until } from './fixtures.js'

describe('levels', () => {
  it('L1 hit: no store call, no loader call', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'l1', store })
    const { loader, calls } = countingLoader(() => 'v')
    expect(await cache.get('k', loader)).toBe('v')
    const storeCalls = [...store.calls.values()].reduce((a, b) => a + b, 0)
    for (let i = 0; i < 100; i++) expect(await cache.get('k', loader)).toBe('v')
    expect(calls).toHaveLength(1)
    expect([...store.calls.values()].reduce((a, b) => a + b, 0)).toBe(storeCalls)
    expect((await cache.getWithInfo('k', loader)).hitLevel).toBe(1)
    expect(cache.stats()).toMatchObject({ l1Hits: 101, loads: 1, misses: 1 })
  })

  it('L2 hit is promoted to L1 for the remaining TTL, not a fresh one', async () => {
    const { cache: a, clock, store } = cacheWithClock<string>({ ttl: 10_000 })
    const b = new TierCache<string>({ name: 'test', store, clock, ttl: 10_000 })
    await a.get('k', async () => 'v')
    clock.advance(7_000)
    const { loader, calls } = countingLoader(() => 'other')
    expect(await b.getWithInfo('k', loader)).toEqual({ value: 'v', hitLevel: 2, stale: false })
    expect(b.peek('k')?.ttlRemaining).toBe(3_000)
    clock.advance(3_001)
    expect(b.peek('k')).toBeUndefined() // no stale window: gone at expiry
    expect(await b.get('k', loader)).toBe('other')
    expect(calls).toHaveLength(1)
  })

  it('getWithInfo reports hitLevel 1, 2, 3', async () => {
    const { cache, store, clock } = cacheWithClock<number>()
    const other = new TierCache<number>({ name: 'test', store, clock })
    expect((await cache.getWithInfo('k', async () => 1)).hitLevel).toBe(3)
    expect((await cache.getWithInfo('k', async () => 2)).hitLevel).toBe(1)
    expect((await other.getWithInfo('k', async () => 3)).hitLevel).toBe(2)
  })

  it('getFresh answers a fresh L1 value synchronously, counted as get counts an L1 hit, and nothing else', async () => {
    const { cache, clock, store } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 60_000 })
    expect(cache.getFresh('k')).toBeUndefined()
    await cache.set('k', 'v')
    const before = cache.stats()
    expect(cache.getFresh('k')).toBe('v')
    expect(cache.stats()).toMatchObject({ l1Hits: before.l1Hits + 1, gets: before.gets + 1 })
    // Refused by the caller: not answered, not counted.
    expect(cache.getFresh('k', (value) => value !== 'v')).toBeUndefined()
    expect(cache.getFresh('k', (value) => value === 'v')).toBe('v')
    expect(cache.stats().l1Hits).toBe(before.l1Hits + 2)
    // Only what L1 holds fresh: not the store's value, not a stale one, not a cached miss.
    const other = new TierCache<string>({ name: 'test', store, clock, ttl: 1_000 })
    expect(other.getFresh('k')).toBeUndefined()
    clock.advance(1_001)
    expect(cache.peek('k')?.stale).toBe(true)
    expect(cache.getFresh('k')).toBeUndefined()
    await cache.set('gone', null)
    expect(cache.getFresh('gone')).toBeUndefined()
    expect(cache.stats().l1Hits).toBe(before.l1Hits + 2)
  })

  it('idle resolves once every load has written and let go of its lock, at once when nothing runs', async () => {
    const { cache, store } = cacheWithClock<string>()
    let idle = false
    await cache.idle()
    let finish!: (value: string) => void
    const loading = cache.get('k', () => new Promise<string>((resolve) => (finish = resolve)))
    const settled = cache.idle().then(() => (idle = true))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(idle).toBe(false)
    finish('v')
    await settled
    expect(await loading).toBe('v')
    // Written through, and the lock released: another process could take it at once.
    expect(await store.get('test', 'k')).toBeDefined()
    expect(await store.lock?.acquire('test', 'k', 1_000)).toEqual(expect.any(String))
  })

  it('get without a loader reads L1 and L2 and resolves undefined on a miss, caching nothing', async () => {
    const { cache } = cacheWithClock<string>()
    expect(await cache.get('k')).toBeUndefined()
    await cache.set('k', 'v')
    expect(await cache.get('k')).toBe('v')
    expect(cache.peek('absent')).toBeUndefined()
  })

  it('lruSize 0 disables L1: every read goes to the store', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'nol1', store, lruSize: 0 })
    await cache.get('k', async () => 'v')
    const before = store.count('read')
    expect((await cache.getWithInfo('k', async () => 'x')).hitLevel).toBe(2)
    expect(store.count('read')).toBe(before + 1)
    expect(cache.peek('k')).toBeUndefined()
  })

  it('lruMaxBytes bounds L1 by sizeOf', async () => {
    const cache = new TierCache<string>({ name: 'bytes', lruMaxBytes: 1_000, sizeOf: (v) => v.length })
    for (let i = 0; i < 50; i++) await cache.set(`k${i}`, 'x'.repeat(100))
    expect(cache.stats().l1Size).toBe(10)
    expect(cache.peek('k49')?.value).toBe('x'.repeat(100))
    expect(cache.peek('k0')).toBeUndefined()
    // evicted from L1, still in the store
    expect(await cache.getWithInfo('k0')).toMatchObject({ value: 'x'.repeat(100), hitLevel: 2 })
  })
})

describe('set, delete, purge', () => {
  it('reach L1 and L2', async () => {
    const { cache, store, clock } = cacheWithClock<string>()
    const other = new TierCache<string>({ name: 'test', store, clock })
    await cache.set('k', 'v', { ttl: 5_000 })
    expect(cache.peek('k')).toEqual({ value: 'v', ttlRemaining: 5_000, stale: false })
    expect(await other.getWithInfo('k')).toMatchObject({ value: 'v', hitLevel: 2 })
    await cache.delete('k')
    expect(cache.peek('k')).toBeUndefined()
    expect(await store.get('test', 'k')).toBeUndefined()
  })

  it('purge of one namespace leaves the others intact', async () => {
    const store = new MemoryStore()
    const users = new TierCache<string>({ name: 'users', store })
    const posts = new TierCache<string>({ name: 'posts', store })
    await users.set('1', 'alice')
    await posts.set('1', 'hello')
    await users.purge()
    expect(users.peek('1')).toBeUndefined()
    expect(await users.get('1')).toBeUndefined()
    expect(await posts.get('1')).toBe('hello')
    expect(await new TierCache<string>({ name: 'posts', store }).get('1')).toBe('hello')
  })

  it("two caches with different names never see each other's keys", async () => {
    const store = new MemoryStore()
    const a = new TierCache<string>({ name: 'a', store })
    const b = new TierCache<string>({ name: 'b', store })
    await a.set('k', 'from-a')
    expect(await b.get('k')).toBeUndefined()
  })

  it("a set during a load wins over the load's (older) result", async () => {
    const { cache, store } = cacheWithClock<string>()
    const slow = countingLoader(() => 'loaded', 50)
    const loading = cache.get('k', slow.loader)
    await until(() => slow.calls.length === 1)
    await cache.set('k', 'set')
    expect(await loading).toBe('loaded')
    expect(cache.peek('k')?.value).toBe('set')
    expect(new TextDecoder().decode((await store.get('test', 'k'))!.data!)).toContain('set')
  })
})

describe('codec and L1 values', () => {
  it('keeps Date, Map, Set and BigInt through the shared store', async () => {
    const store = new MemoryStore()
    const a = new TierCache<unknown>({ name: 'types', store })
    const b = new TierCache<unknown>({ name: 'types', store })
    const value = { at: new Date(1_700_000_000_000), m: new Map([['x', 1]]), s: new Set([1, 2]), big: 2n ** 70n }
    await a.set('k', value)
    const read = (await b.get('k')) as typeof value
    expect(read).not.toBe(value)
    expect(read.at).toBeInstanceOf(Date)
    expect(read.at.getTime()).toBe(value.at.getTime())
    expect(read.m).toBeInstanceOf(Map)
    expect(read.m.get('x')).toBe(1)
    expect(read.s).toBeInstanceOf(Set)
    expect(read.big).toBe(2n ** 70n)
  })

  it('L1 hands every caller the same object, decoded once', async () => {
    const store = new MemoryStore()
    const codec = jsonCodec()
    await new TierCache<object>({ name: 'ref', store, codec }).set('k', { a: 1 })
    const decode = vi.fn(codec.decode)
    const reader = new TierCache<object>({ name: 'ref', store, codec: { ...codec, decode } })
    const x = await reader.get('k')
    const y = await reader.get('k')
    expect(x).toEqual({ a: 1 })
    expect(x).toBe(y)
    expect(decode).toHaveBeenCalledTimes(1)
  })

  it('l1Serializer runs once per L1 fill, never on a hit', async () => {
    const store = new MemoryStore()
    await new TierCache<string>({ name: 'ser', store }).set('k', 'abc')
    const serializer = vi.fn((value: unknown) => Object.freeze({ upper: String(value).toUpperCase() }))
    const cache = new TierCache<{ upper: string }>({ name: 'ser', store, l1Serializer: serializer })
    expect(await cache.get('k')).toEqual({ upper: 'ABC' })
    expect(await cache.get('k')).toEqual({ upper: 'ABC' })
    expect(serializer).toHaveBeenCalledTimes(1)
    expect((await cache.get('n', async () => 'x' as never))?.upper).toBe('X')
  })
})

describe('ipc hooks', () => {
  it('publishes set/delete/purge/refresh and applies incoming invalidations to L1', async () => {
    const published: unknown[] = []
    let handler: import('../src/index.js').InvalidationHandler | undefined
    const ipc = {
      publish: (e: unknown) => published.push(e),
      subscribe: (_ns: string, h: import('../src/index.js').InvalidationHandler) => {
        handler = h
        return () => {
          handler = undefined
        }
      },
    }
    const { cache, clock } = cacheWithClock<string>({ ipc, ttl: 1_000, staleTtl: 5_000 })
    await cache.set('a', '1')
    await cache.delete('a')
    await cache.purge()
    await cache.set('b', '2')
    clock.advance(1_500)
    await cache.get('b', async () => '3')
    await until(() => published.length === 5)
    expect(published).toEqual([
      { kind: 'set', namespace: 'test', keys: ['a'] },
      { kind: 'delete', namespace: 'test', keys: ['a'] },
      { kind: 'purge', namespace: 'test', keys: [] },
      { kind: 'set', namespace: 'test', keys: ['b'] },
      { kind: 'refresh', namespace: 'test', keys: ['b'] },
    ])
    await cache.set('c', 'x')
    handler!.invalidate(['c'])
    expect(cache.peek('c')).toBeUndefined()
    await cache.set('d', 'x')
    handler!.invalidateAll()
    expect(cache.peek('d')).toBeUndefined()
    // while the bus is down, L1 entries older than maxStaleness go back to the store
    await cache.set('e', 'x')
    handler!.disconnected(100)
    expect((await cache.getWithInfo('e')).hitLevel).toBe(1)
    clock.advance(100)
    expect((await cache.getWithInfo('e')).hitLevel).toBe(2)
    handler!.reconnected()
    expect(cache.stats().l1Size).toBe(0)
    cache.close()
    expect(handler).toBeUndefined()
  })
})
