import { normalisedCacheKey } from '@tiercache/http'
import { afterEach, describe, expect, it } from 'vitest'
import { get, nextLoad, start, stopAll, TestOrigin } from './servers.js'

afterEach(stopAll)

describe('cacheHttp', () => {
  it('fetches a miss from the origin, then serves hits from the cache with X-Cache and Age', async () => {
    const origin = new TestOrigin()
    const { url, clock } = await start(origin)
    const first = await get(`${url}/a`)
    expect(first).toMatchObject({ status: 200, body: 'v1' })
    expect(first.headers['x-cache']).toBe('MISS')
    expect(first.headers.age).toBeUndefined()
    origin.body = 'v2'
    clock.advance(1_100)
    const second = await get(`${url}/a`)
    expect(second).toMatchObject({ status: 200, body: 'v1' })
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.headers['content-type']).toBe('text/plain')
    expect(Number(second.headers.age)).toBeGreaterThanOrEqual(1)
    expect(origin.count).toBe(1)
  })

  it('500 concurrent requests for one uncached URL make 1 origin request', async () => {
    const origin = new TestOrigin()
    origin.delay = 200
    const { url } = await start(origin)
    const answers = await Promise.all(Array.from({ length: 500 }, () => get(`${url}/hot`)))
    expect(origin.count).toBe(1)
    expect(answers.every((a) => a.status === 200 && a.body === 'v1')).toBe(true)
    const statuses = answers.map((a) => a.headers['x-cache'])
    expect(statuses.filter((s) => s === 'MISS')).toHaveLength(1)
    expect(statuses.filter((s) => s === 'HIT')).toHaveLength(499)
  })

  it('after expiry, the first request gets the stale response at once (UPDATING) and the origin sees exactly 1 refresh', async () => {
    const origin = new TestOrigin()
    const { url, clock, cache } = await start(origin, { ttl: 600, staleTtl: 30_000 })
    await get(`${url}/s`)
    clock.advance(700)
    origin.body = 'v2'
    const refresh = origin.hold(2) // the origin answers the refresh only when told to
    const refreshed = nextLoad(cache)
    const first = await get(`${url}/s`)
    expect(first.headers['x-cache']).toBe('UPDATING')
    expect(first.body).toBe('v1')
    expect(first.ms).toBeLessThan(500)
    const more = await Promise.all(Array.from({ length: 50 }, () => get(`${url}/s`)))
    expect(more.every((a) => a.body === 'v1' && a.headers['x-cache'] === 'UPDATING')).toBe(true)
    await refresh.arrived
    refresh.publish()
    await refreshed // the refresh lands, fresh for 600 ms
    expect(origin.count).toBe(2) // the first fill, then exactly one refresh
    const after = await get(`${url}/s`)
    expect(after).toMatchObject({ body: 'v2' })
    expect(after.headers['x-cache']).toBe('HIT')
  })

  it("separates hosts: one virtual host is never served another one's response", async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => res.end(`page of ${req.headers.host}`)
    const { url } = await start(origin)
    const a = await get(`${url}/`, { headers: { host: 'a.example' } })
    const b = await get(`${url}/`, { headers: { host: 'b.example' } })
    const a2 = await get(`${url}/`, { headers: { host: 'A.example' } })
    expect([a.body, b.body, a2.body]).toEqual(['page of a.example', 'page of b.example', 'page of a.example'])
    expect(a2.headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(2)
  })

  it('with key: normalisedCacheKey, the order of parameters does not split the cache', async () => {
    const origin = new TestOrigin()
    const { url } = await start(origin, { key: normalisedCacheKey })
    await get(`${url}/q?b=2&a=1`)
    const again = await get(`${url}/q?a=1&b=2`)
    expect(again.headers['x-cache']).toBe('HIT')
    const other = await get(`${url}/q?a=1&b=3`)
    expect(other.headers['x-cache']).toBe('MISS')
  })

  it('by default, distinct URIs are distinct keys: reordered or re-encoded queries are not served each other', async () => {
    const origin = new TestOrigin()
    const { url } = await start(origin)
    for (const [one, other] of [
      ['/q?a=1&b=2', '/q?b=2&a=1'],
      ['/q?x=a+b', '/q?x=a%20b'],
      ['/q?a', '/q?a='],
      ['/q?p=%zz', '/q?p=%25zz'],
    ]) {
      expect((await get(`${url}${one}`)).headers['x-cache']).toBe('MISS')
      expect((await get(`${url}${other}`)).headers['x-cache']).toBe('MISS')
    }
    expect(origin.count).toBe(8)
  })
})
