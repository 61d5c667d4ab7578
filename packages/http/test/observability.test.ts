import { tracingChannel } from 'node:diagnostics_channel'
import { CHANNELS, type HttpRequestTrace } from '@tiercache/core'
import { afterEach, describe, expect, it } from 'vitest'
import { cacheHttp } from '../src/index.js'
import { clockedCache, get, listen, nextLoad, start, stopAll, TestOrigin } from './servers.js'

afterEach(stopAll)

describe('httpCache.stats(): answers by X-Cache status', () => {
  it('counts each response by the status it was sent with', async () => {
    const origin = new TestOrigin()
    const { url, clock, cache, httpCache } = await start(origin, { ttl: 600, staleTtl: 30_000 })
    expect(httpCache.stats().responses).toEqual({
      HIT: 0,
      MISS: 0,
      EXPIRED: 0,
      REVALIDATED: 0,
      UPDATING: 0,
      STALE: 0,
      BYPASS: 0,
    })
    const sent: string[] = []
    const send = async (path: string, headers: Record<string, string> = {}) =>
      sent.push(String((await get(`${url}${path}`, { headers })).headers['x-cache']))
    await send('/a')
    await send('/a')
    await send('/a')
    await send('/a', { authorization: 'Basic x' })
    clock.advance(700)
    const refreshed = nextLoad(cache)
    await send('/a')
    await refreshed
    expect(sent).toEqual(['MISS', 'HIT', 'HIT', 'BYPASS', 'UPDATING'])
    expect(httpCache.stats()).toEqual({
      responses: { HIT: 2, MISS: 1, EXPIRED: 0, REVALIDATED: 0, UPDATING: 1, STALE: 0, BYPASS: 1 },
      errors: 0,
    })
  })

  it('counts a request the engine could not answer as an error', async () => {
    const origin = new TestOrigin()
    const { cache } = clockedCache()
    const listener = cacheHttp(origin.handler, { cache, key: () => '' })
    const server = await listen(listener)
    try {
      expect((await get(`${server.url}/a`)).status).toBe(500)
      expect(listener.httpCache.stats().errors).toBe(1)
    } finally {
      await server.close()
    }
  })
})

describe('tiercache:http:request', () => {
  it('publishes each request with the cache name, method, url and X-Cache status', async () => {
    const origin = new TestOrigin()
    const { url, cache, httpCache } = await start(origin)
    const ends: HttpRequestTrace[] = []
    const channel = tracingChannel<HttpRequestTrace, HttpRequestTrace>(CHANNELS.httpRequest)
    const handlers = { asyncEnd: (ctx: HttpRequestTrace) => ends.push({ ...ctx }) }
    channel.subscribe(handlers as never)
    try {
      await get(`${url}/x?q=1`)
      await get(`${url}/x?q=1`)
    } finally {
      channel.unsubscribe(handlers as never)
    }
    expect(ends).toMatchObject([
      { cache: cache.name, owner: httpCache, method: 'GET', url: '/x?q=1', cacheStatus: 'MISS' },
      { cache: cache.name, owner: httpCache, method: 'GET', url: '/x?q=1', cacheStatus: 'HIT' },
    ])
  })
})
