import { describe, expect, it } from 'vitest'
import { LoaderError, TierCache } from '../src/index.js'
import { cacheWithClock, countingLoader, tick, until } from './fixtures.js'

describe('stale window (stale-while-revalidate)', () => {
  it('serves the first caller after expiry the stale value at once, with exactly one background refresh', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000 })
    let version = 0
    const { loader, calls } = countingLoader(() => `v${++version}`, 50)
    expect(await cache.get('k', loader)).toBe('v1')
    clock.advance(1_500)
    const started = performance.now()
    const first = await cache.getWithInfo('k', loader)
    expect(performance.now() - started).toBeLessThan(20) // not the loader's 50 ms
    expect(first).toEqual({ value: 'v1', hitLevel: 4, stale: true, reason: 'refreshing' })
    // while the refresh runs, everyone gets the stale value and no second load starts
    const during = await Promise.all(Array.from({ length: 100 }, () => cache.getWithInfo('k', loader)))
    expect(during.every((i) => i.value === 'v1' && i.stale)).toBe(true)
    await until(() => cache.peek('k')?.value === 'v2')
    expect(calls).toHaveLength(2)
    expect(await cache.getWithInfo('k', loader)).toEqual({ value: 'v2', hitLevel: 1, stale: false })
  })

  it('a stale value found in the store is served at once too (first caller of another node)', async () => {
    const { cache: a, clock, store } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000 })
    const b = new TierCache<string>({ name: 'test', store, clock, ttl: 1_000, staleTtl: 5_000 })
    await a.get('k', async () => 'old')
    clock.advance(2_000)
    const { loader, calls } = countingLoader(() => 'new', 30)
    expect(await b.getWithInfo('k', loader)).toEqual({ value: 'old', hitLevel: 4, stale: true, reason: 'refreshing' })
    await until(() => b.peek('k')?.value === 'new')
    expect(calls).toHaveLength(1)
  })

  it('two nodes with a stale key: exactly one refresh between them; the other picks up its result', async () => {
    const { cache: a, clock, store } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000 })
    const b = new TierCache<string>({ name: 'test', store, clock, ttl: 1_000, staleTtl: 5_000 })
    await a.get('k', async () => 'old')
    await b.get('k', async () => 'never')
    clock.advance(2_000)
    const { loader, calls } = countingLoader(() => 'new', 50)
    const served = await Promise.all([a.get('k', loader), b.get('k', loader), a.get('k', loader), b.get('k', loader)])
    expect(served).toEqual(['old', 'old', 'old', 'old'])
    await until(() => a.peek('k')?.value === 'new' && b.peek('k')?.value === 'new')
    expect(calls).toHaveLength(1)
  })

  it('a failed refresh keeps the stale value until the window ends and emits error', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000, refreshRetryDelay: 1_000 })
    const { loader, calls, fail } = countingLoader(() => 'v', 5)
    await cache.get('k', loader)
    fail()
    const errors: unknown[] = []
    cache.on('error', (e) => errors.push(e))
    clock.advance(2_000)
    expect(await cache.get('k', loader)).toBe('v')
    await until(() => errors.length === 1)
    expect(errors[0]).toBeInstanceOf(LoaderError)
    // inside the retry delay: stale served, no new attempt
    expect(await cache.get('k', loader)).toBe('v')
    await tick()
    expect(calls).toHaveLength(2)
    // after the retry delay: one more attempt, still stale
    clock.advance(1_000)
    expect(await cache.get('k', loader)).toBe('v')
    await until(() => calls.length === 3)
    // past the window: the error reaches the caller
    clock.advance(5_000)
    await expect(cache.get('k', loader)).rejects.toBeInstanceOf(LoaderError)
  })
})

describe('soft timeout', () => {
  it('soft timeout serves the held value while the load goes on, and the load still lands', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, resurrectTtl: 10_000, softTimeout: 30 })
    await cache.get('k', async () => 'old')
    clock.advance(1_500)
    const slow = countingLoader(() => 'new', 150)
    const started = Date.now()
    expect(await cache.getWithInfo('k', slow.loader)).toEqual({
      value: 'old',
      hitLevel: 4,
      stale: true,
      reason: 'soft-timeout',
    })
    expect(Date.now() - started).toBeLessThan(140)
    await until(() => cache.peek('k')?.value === 'new')
    expect(slow.calls).toHaveLength(1)
  })
})

describe('loader context of a refresh', () => {
  it('gives a refresh the stale value it replaces', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000 })
    await cache.get('k', async () => 'old')
    clock.advance(1_500)
    let seen: { staleValue: unknown; refreshing: boolean } | undefined
    await cache.get('k', async (_key, ctx) => {
      seen = { staleValue: ctx.staleValue, refreshing: ctx.refreshing }
      return 'new'
    })
    await until(() => seen !== undefined)
    expect(seen).toEqual({ staleValue: 'old', refreshing: true })
  })
})
