/**
 * The HTTP cache over a real Redis that goes away: requests are answered by the
 * origin meanwhile and the failures are reported; once Redis is back, HITs.
 * And two `HttpCache` engines over one cache agree on purges by tag (issue 10).
 */
import { MemoryStore, StoreError, TierCache, type TierCacheError } from '@tiercache/core'
import { cacheHttp, HttpCache, type HttpCacheValue } from '@tiercache/http'
import { BroadcastChannelIpc } from '@tiercache/ipc'
import { RedisStore } from '@tiercache/redis'
import { afterEach, describe, expect, it } from 'vitest'
import { get, listen } from '../../packages/http/test/servers.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-servers.js'

const PORT = 7080
const open: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close()
})

/** A tagged origin that counts what reaches it. */
function taggedOrigin() {
  const origin = {
    hits: 0,
    handler: (_req: unknown, res: import('node:http').ServerResponse) => {
      origin.hits++
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-tag': 'items' }).end(`item #${origin.hits}`)
    },
  }
  return origin
}

describe('HTTP cache over a Redis that stops', () => {
  it('Redis killed: answered from the origin (MISS) and reported; Redis restarted: HITs again', async () => {
    const redis: RedisServer = await startRedisServer(PORT)
    open.push(() => redis.stop())
    const store = new RedisStore({ url: redis.url, prefix: `store-down-${Math.random()}:` })
    // No L1: every request reads the store, so the outage is met (an L1 copy would be served through it).
    const cache = new TierCache<HttpCacheValue>({ name: 'store-down', store, storeTimeout: 200, lruSize: 0 })
    open.push(async () => cache.close())
    const errors: TierCacheError[] = []
    cache.on('error', (error) => errors.push(error))
    const origin = taggedOrigin()
    const listener = cacheHttp(origin.handler, { cache, ttl: 60_000 })
    const server = await listen(listener)
    open.push(() => server.close())

    expect((await get(`${server.url}/item`)).headers['x-cache']).toBe('MISS')
    expect((await get(`${server.url}/item`)).headers['x-cache']).toBe('HIT')

    await redis.kill()
    for (let i = 2; i <= 3; i++) {
      const got = await get(`${server.url}/item`)
      expect(got).toMatchObject({ status: 200, body: `item #${i}` })
      expect(got.headers['x-cache']).toBe('MISS')
    }
    expect(errors.some((error) => error instanceof StoreError)).toBe(true)
    await expect(listener.httpCache.purgeTag('items')).rejects.toBeInstanceOf(StoreError)

    await redis.restart()
    // The client reconnects on its own; until it has, requests still go to the origin.
    const deadline = Date.now() + 10_000
    let got = await get(`${server.url}/item`)
    while (got.headers['x-cache'] !== 'HIT' && Date.now() < deadline) {
      expect(got.status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 100))
      got = await get(`${server.url}/item`)
    }
    expect(got.headers['x-cache']).toBe('HIT')
  }, 30_000)
})

describe('two HttpCache engines over one TierCache', () => {
  it('share their tags: a purgeTag through one is seen by the other at once', async () => {
    const ipc = new BroadcastChannelIpc({ channel: `engines-${Math.random()}` })
    const cache = new TierCache<HttpCacheValue>({ name: 'engines', store: new MemoryStore(), ipc })
    const serving = new HttpCache({ cache, ttl: 60_000 })
    const purging = new HttpCache({ cache, ttl: 60_000 })
    open.push(async () => {
      serving.close()
      purging.close()
      cache.close()
      await ipc.close()
    })
    const origin = taggedOrigin()
    const server = await listen(cacheHttp(origin.handler, serving))
    open.push(() => server.close())

    await get(`${server.url}/item`)
    expect((await get(`${server.url}/item`)).headers['x-cache']).toBe('HIT')
    await purging.purgeTag('items')
    const after = await get(`${server.url}/item`)
    expect(after).toMatchObject({ status: 200, body: 'item #2' })
    expect(after.headers['x-cache']).toBe('MISS')
  })
})
