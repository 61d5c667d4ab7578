import { afterEach, describe, expect, it } from 'vitest'
import { get, start, stopAll, TestOrigin } from './servers.js'

afterEach(stopAll)

describe('respectCacheControl: the origin sets freshness', () => {
  it('max-age sets the TTL instead of the option', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cache-control': 'max-age=1' }
    const { url, clock } = await start(origin, { ttl: 60_000, respectCacheControl: true })
    await get(`${url}/a`)
    expect((await get(`${url}/a`)).headers['x-cache']).toBe('HIT')
    clock.advance(1_100)
    expect((await get(`${url}/a`)).headers['x-cache']).toBe('MISS')
  })

  it('without respectCacheControl the option wins (nginx proxy_cache_valid with proxy_ignore_headers)', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cache-control': 'max-age=0' }
    const { url } = await start(origin, { ttl: 60_000 })
    await get(`${url}/b`)
    expect((await get(`${url}/b`)).headers['x-cache']).toBe('HIT')
  })

  it('no-cache and max-age=0 are not stored', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cache-control': 'no-cache' }
    const { url } = await start(origin, { respectCacheControl: true })
    await get(`${url}/c`)
    expect((await get(`${url}/c`)).headers['x-cache']).toBe('MISS')
    origin.headers = { 'cache-control': 'max-age=0' }
    await get(`${url}/d`)
    expect((await get(`${url}/d`)).headers['x-cache']).toBe('MISS')
  })

  it('stale-while-revalidate from the origin opens the stale window', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cache-control': 'max-age=1, stale-while-revalidate=30' }
    const { url, clock } = await start(origin, { respectCacheControl: true })
    await get(`${url}/e`)
    clock.advance(1_100)
    origin.delay = 500
    const stale = await get(`${url}/e`)
    expect(stale.headers['x-cache']).toBe('UPDATING')
    expect(stale.ms).toBeLessThan(400)
  })

  it('Expires in the past is not stored', async () => {
    const origin = new TestOrigin()
    origin.headers = { expires: 'Thu, 01 Jan 1970 00:00:00 GMT' }
    const { url } = await start(origin, { respectCacheControl: true })
    await get(`${url}/f`)
    expect((await get(`${url}/f`)).headers['x-cache']).toBe('MISS')
  })
})
