import { createServer } from 'node:http'
import { TierCache } from '@tiercache/core'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { describe, expectTypeOf, it } from 'vitest'
import {
  type CacheStatus,
  cacheExpress,
  cacheFastify,
  cacheFetch,
  cacheHttp,
  HttpCache,
  type HttpCacheOptions,
  type HttpCacheValue,
} from '../src/index.js'

const cache = new TierCache<HttpCacheValue>({ name: 'types' })

describe('public types of @tiercache/http', () => {
  it('cacheHttp returns a listener http.createServer takes, with its engine', () => {
    const listener = cacheHttp((_req, res) => res.end('x'), { cache, ttl: 60_000, staleTtl: 300_000 })
    createServer(listener)
    expectTypeOf(listener.httpCache).toEqualTypeOf<HttpCache>()
    expectTypeOf(listener.httpCache.purgeTag).returns.toEqualTypeOf<Promise<void>>()
  })

  it("policy is 'nginx' or 'rfc9111', for every integration", () => {
    expectTypeOf<HttpCacheOptions['policy']>().toEqualTypeOf<'nginx' | 'rfc9111' | undefined>()
    cacheFetch((request) => fetch(request), { cache, policy: 'rfc9111' })
    // @ts-expect-error an unknown policy
    new HttpCache({ cache, policy: 'rfc2616' })
  })

  it('the options require a cache of HttpCacheValue', () => {
    // @ts-expect-error a cache of anything else cannot hold responses
    const wrong: HttpCacheOptions = { cache: new TierCache<string>() }
    expectTypeOf<HttpCacheOptions['cache']>().toEqualTypeOf<TierCache<HttpCacheValue>>()
    void wrong
  })

  it('cacheExpress is Express 5 middleware', () => {
    const app = express()
    app.use(cacheExpress({ cache }))
    app.use('/api', cacheExpress(new HttpCache({ cache })))
  })

  it('cacheFastify is a Fastify 5 plugin', async () => {
    const app = Fastify()
    await app.register(cacheFastify({ cache }))
  })

  it('cacheFetch wraps a Hono app and is itself a fetch handler', () => {
    const app = new Hono()
    const handler = cacheFetch(app.fetch, { cache })
    expectTypeOf(handler).toBeCallableWith(new Request('http://x/'))
    expectTypeOf(handler).returns.toEqualTypeOf<Promise<Response>>()
    const hono = new Hono()
    hono.get('*', (c) => handler(c.req.raw))
  })

  it("the status vocabulary is nginx's", () => {
    expectTypeOf<CacheStatus>().toEqualTypeOf<
      'HIT' | 'MISS' | 'EXPIRED' | 'REVALIDATED' | 'UPDATING' | 'STALE' | 'BYPASS'
    >()
  })
})
