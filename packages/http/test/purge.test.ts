import { MemoryStore, TierCache } from '@tiercache/core'
import { ChaosStore } from '@tiercache/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { get, nextLoad, start, stopAll, TestOrigin } from './servers.js'

afterEach(stopAll)

describe('purge', () => {
  it('by tag: every response carrying the tag (Cache-Tag or Surrogate-Key) is refetched, others stay', async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => {
      if (req.url === '/p/1') res.setHeader('cache-tag', 'product-1, catalog')
      if (req.url === '/p/2') res.setHeader('surrogate-key', 'product-2 catalog')
      if (req.url === '/about') res.setHeader('cache-tag', 'static')
      res.end(`${req.url} #${origin.count}`)
    }
    const { url, httpCache } = await start(origin)
    for (const path of ['/p/1', '/p/2', '/about']) await get(`${url}${path}`)
    expect(origin.count).toBe(3)

    await httpCache.purgeTag('product-1')
    const p1 = await get(`${url}/p/1`)
    expect(p1.headers['x-cache']).toBe('MISS')
    expect(p1.body).toBe('/p/1 #4')
    expect((await get(`${url}/p/2`)).headers['x-cache']).toBe('HIT')

    await httpCache.purgeTag('catalog')
    expect((await get(`${url}/p/1`)).headers['x-cache']).toBe('MISS')
    expect((await get(`${url}/p/2`)).headers['x-cache']).toBe('MISS')
    expect((await get(`${url}/about`)).headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(6)
  })

  it('by tag is the core tag operation: the same few store calls for 1 and for 40 tagged responses', async () => {
    const purgeCalls = async (responses: number) => {
      const origin = new TestOrigin()
      origin.headers = { 'cache-tag': 'catalog' }
      const store = new ChaosStore(new MemoryStore())
      const cache = new TierCache<never>({ name: `purge-o1-${responses}`, store })
      const { url, httpCache } = await start(origin, { cache })
      for (let i = 0; i < responses; i++) await get(`${url}/p/${i}`)
      store.calls.clear()
      await httpCache.purgeTag('catalog')
      const calls = [...store.calls.values()].reduce((a, b) => a + b, 0)
      expect((await get(`${url}/p/0`)).headers['x-cache']).toBe('MISS')
      return calls
    }
    const one = await purgeCalls(1)
    expect(one).toBeGreaterThan(0)
    expect(one).toBeLessThanOrEqual(4)
    expect(await purgeCalls(40)).toBe(one)
  })

  it('a tag purge with many concurrent readers refetches once', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cache-tag': 't' }
    origin.delay = 50
    const { url, httpCache } = await start(origin)
    await get(`${url}/t`)
    await httpCache.purgeTag('t')
    await Promise.all(Array.from({ length: 50 }, () => get(`${url}/t`)))
    expect(origin.count).toBe(2)
  })

  it('by URL and by key, Vary variants included', async () => {
    const origin = new TestOrigin()
    origin.headers = { vary: 'accept-language' }
    const { url, httpCache, listener } = await start(origin)
    await get(`${url}/doc`, { headers: { 'accept-language': 'fr' } })
    await get(`${url}/doc`, { headers: { 'accept-language': 'de' } })
    await get(`${url}/plain-page`)
    await httpCache.purgeUrl(`${url}/doc`)
    expect((await get(`${url}/doc`, { headers: { 'accept-language': 'fr' } })).headers['x-cache']).toBe('MISS')
    expect((await get(`${url}/doc`, { headers: { 'accept-language': 'de' } })).headers['x-cache']).toBe('MISS')
    const key = listener.httpCache.keyOf({
      method: 'GET',
      host: `127.0.0.1:${new URL(url).port}`,
      url: '/plain-page',
      headers: {},
    })
    expect(key).toBe(`GET 127.0.0.1:${new URL(url).port}/plain-page`)
    await httpCache.purge(key)
    expect((await get(`${url}/plain-page`)).headers['x-cache']).toBe('MISS')
  })
})

describe('purge regressions', () => {
  it('a tag purge of a Vary variant reloads it as a variant, so later requests still hit', async () => {
    const origin = new TestOrigin()
    origin.headers = { vary: 'accept-language', 'cache-tag': 'doc' }
    const { url, httpCache } = await start(origin)
    const fr = { 'accept-language': 'fr' }
    await get(`${url}/doc`, { headers: fr })
    await httpCache.purgeTag('doc')
    expect((await get(`${url}/doc`, { headers: fr })).headers['x-cache']).toBe('MISS')
    const again = await get(`${url}/doc`, { headers: fr })
    expect(again.headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(2)
  })
})

describe('purge during a fetch', () => {
  it('a tag purge that lands while a refresh is at the origin is not outlived by that refresh', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cache-tag': 'news' }
    const refresh = origin.hold(2) // the refresh renders what the origin holds when it arrives
    const { url, httpCache, clock, cache } = await start(origin, { ttl: 200, staleTtl: 10_000 })
    await get(`${url}/n`)
    clock.advance(300)
    origin.body = 'v2'
    expect((await get(`${url}/n`)).headers['x-cache']).toBe('UPDATING') // the refresh renders v2
    await refresh.arrived
    origin.body = 'v3'
    await httpCache.purgeTag('news') // v3 is published while v2 is on its way
    const landed = nextLoad(cache)
    refresh.publish()
    await landed
    const after = await get(`${url}/n`)
    expect(after.body).toBe('v3')
  })
})

describe('purge during a miss (regression: the purged page stayed a HIT on the purging node)', () => {
  it('a tag purge that lands while a first fetch is at the origin leaves that response stale at its first read', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cache-tag': 'news' }
    const fill = origin.hold(1)
    const { url, httpCache } = await start(origin)
    const first = get(`${url}/n`)
    await fill.arrived
    origin.body = 'v2'
    await httpCache.purgeTag('news') // v2 is published while v1 is on its way
    fill.publish()
    expect((await first).body).toBe('v1') // the client that asked gets what it asked for
    const after = await get(`${url}/n`)
    expect(after.body).toBe('v2')
    expect(after.headers['x-cache']).toBe('MISS')
    expect((await get(`${url}/n`)).headers['x-cache']).toBe('HIT')
  })
})
