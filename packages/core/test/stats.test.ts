import { describe, expect, it } from 'vitest'
import type { GetInfo } from '../src/index.js'
import { cacheWithClock, until } from './fixtures.js'

describe('events and stats', () => {
  it('emits hit, miss, load, stale and refresh', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000 })
    const seen: string[] = []
    cache.on('hit', (key, level) => seen.push(`hit:${key}:${level}`))
    cache.on('miss', (key) => seen.push(`miss:${key}`))
    cache.on('load', (key) => seen.push(`load:${key}`))
    cache.on('stale', (key, reason) => seen.push(`stale:${key}:${reason}`))
    cache.on('refresh', (key) => seen.push(`refresh:${key}`))
    await cache.get('k', async () => 'v')
    await cache.get('k', async () => 'v')
    clock.advance(1_500)
    await cache.get('k', async () => 'v2')
    await until(() => seen.includes('load:k') && seen.filter((s) => s === 'load:k').length === 2)
    expect(seen).toEqual(['miss:k', 'load:k', 'hit:k:1', 'stale:k:refreshing', 'refresh:k', 'load:k'])
    const info: GetInfo<string> = await cache.getWithInfo('k')
    expect(info.value).toBe('v2')
    expect(cache.stats()).toMatchObject({ l1Hits: 2, misses: 1, loads: 2, staleServed: 1, refreshes: 1 })
  })
})
