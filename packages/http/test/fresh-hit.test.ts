import { afterEach, describe, expect, it } from 'vitest'
import type { CacheRequest } from '../src/index.js'
import { get, start, stopAll, TestOrigin } from './servers.js'

afterEach(stopAll)

const request = (url: string, headers: Record<string, string> = {}, method = 'GET'): CacheRequest => {
  const { host, pathname } = new URL(url)
  return { method, host, url: pathname, headers: { host, ...headers } }
}

describe('the hot path (freshHit)', () => {
  it('answers a fresh L1 hit with the head the full path would write, counted as an L1 hit', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], etag: '"e1"' }
    const { url, cache, clock, httpCache } = await start(origin, { setCookie: 'store' })
    await get(`${url}/a`)
    const hits = cache.stats().l1Hits
    // Answered in the same turn: no promise to wait for.
    const found = httpCache.freshHit(request(`${url}/a`))
    expect(found).not.toBeInstanceOf(Promise)
    expect(found?.status).toBe(200)
    expect(found?.head).toEqual(
      expect.arrayContaining(['set-cookie', 'a=1', 'set-cookie', 'b=2', 'content-length', '2', 'x-cache', 'HIT']),
    )
    expect(cache.stats().l1Hits).toBe(hits + 1)

    clock.advance(2_100)
    const hit = await get(`${url}/a`)
    expect(hit).toMatchObject({ status: 200, body: 'v1' })
    expect(hit.headers).toMatchObject({ 'x-cache': 'HIT', age: '2', 'content-length': '2', etag: '"e1"' })
    expect(hit.headers['set-cookie']).toEqual(['a=1', 'b=2'])
    const head = await get(`${url}/a`, { method: 'HEAD' })
    expect(head).toMatchObject({ status: 200, body: '' })
    expect(head.headers).toMatchObject({ 'x-cache': 'HIT', 'content-length': '2' })
    expect(origin.count).toBe(1)
  })

  it('leaves to the full path what it cannot answer alone: a miss, a conditional request, a bypass, a stale entry', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'content-type': 'text/plain', etag: '"e1"' }
    const { url, clock, httpCache } = await start(origin, { ttl: 1_000, staleTtl: 60_000 })
    expect(httpCache.freshHit(request(`${url}/c`))).toBeUndefined()
    await get(`${url}/c`)
    expect(httpCache.freshHit(request(`${url}/c`, { 'if-none-match': '"e1"' }))).toBeUndefined()
    expect((await get(`${url}/c`, { headers: { 'if-none-match': '"e1"' } })).status).toBe(304)
    expect(httpCache.freshHit(request(`${url}/c`, { authorization: 'Bearer x' }))).toBeUndefined()
    expect(httpCache.freshHit(request(`${url}/c`, {}, 'POST'))).toBeUndefined()
    clock.advance(1_100)
    expect(httpCache.freshHit(request(`${url}/c`))).toBeUndefined()
    expect((await get(`${url}/c`)).headers['x-cache']).toBe('UPDATING')
  })

  it("under policy 'rfc9111', leaves ranges and Authorization (RFC 9111 §3.5) to the full path", async () => {
    const origin = new TestOrigin()
    origin.headers = { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }
    const { url, httpCache } = await start(origin, { policy: 'rfc9111' })
    await get(`${url}/r`)
    expect(httpCache.freshHit(request(`${url}/r`))).toBeDefined()
    expect(httpCache.freshHit(request(`${url}/r`, { range: 'bytes=0-0' }))).toBeUndefined()
    expect((await get(`${url}/r`, { headers: { range: 'bytes=0-0' } })).status).toBe(206)
    expect(httpCache.freshHit(request(`${url}/r`, { authorization: 'Bearer x' }))).toBeUndefined()
  })

  it('a tagged response is a fast hit until its tag is purged, then the origin is asked again', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'content-type': 'text/plain', 'cache-tag': 'product-1' }
    // The tag's state is read while the response is stored: the next request is a fast hit.
    const { url, httpCache } = await start(origin)
    await get(`${url}/t`)
    expect(httpCache.freshHit(request(`${url}/t`))).toBeDefined()
    await httpCache.purgeTag('product-1')
    origin.body = 'v2'
    expect(httpCache.freshHit(request(`${url}/t`))).toBeUndefined()
    const after = await get(`${url}/t`)
    expect(after.body).toBe('v2')
    expect(origin.count).toBe(2)
  })

  it('leaves a varying response to the full path without counting the look-up it declined', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'content-type': 'text/plain', vary: 'accept-language' }
    const { url, cache, httpCache } = await start(origin)
    await get(`${url}/v`, { headers: { 'accept-language': 'de' } })
    const before = cache.stats()
    expect(httpCache.freshHit(request(`${url}/v`, { 'accept-language': 'de' }))).toBeUndefined()
    expect(cache.stats()).toMatchObject({ gets: before.gets, l1Hits: before.l1Hits })
    const hit = await get(`${url}/v`, { headers: { 'accept-language': 'de' } })
    expect(hit.headers['x-cache']).toBe('HIT')
    // The full path's two look-ups (the Vary index, then the variant), no more.
    expect(cache.stats()).toMatchObject({ gets: before.gets + 2, l1Hits: before.l1Hits + 2 })
  })
})
