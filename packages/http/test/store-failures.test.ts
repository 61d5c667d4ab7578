/**
 * A failing shared store degrades the HTTP cache to the origin, never fails a
 * request the origin can answer: every integration answers from the origin
 * (`X-Cache: MISS`), the store's errors reach the response cache's `'error'`
 * event, nothing is served that the cache cannot vouch for, and once the store
 * is back the cache HITs again. A purge whose store write failed rejects.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { MemoryStore, StoreError, TierCache, type TierCacheError } from '@tiercache/core'
import { ChaosStore } from '@tiercache/core/testing'
import {
  cacheExpress,
  cacheFastify,
  cacheFetch,
  cacheHttp,
  type HttpCache,
  type HttpCacheOptions,
  type HttpCacheValue,
} from '@tiercache/http'
import express from 'express'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { fetchListener, get, listen } from './servers.js'

const open: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()))
})

/** An origin whose responses carry a tag, so a cached one must be vouched for by its tag's version in the store. */
class Origin {
  hits = 0
  body(): string {
    this.hits++
    return `item #${this.hits}`
  }
}
const TAGGED = { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'cache-tag': 'items' }

type Integration = (origin: Origin, options: HttpCacheOptions) => Promise<{ url: string; httpCache: HttpCache }>

const integrations: Record<string, Integration> = {
  cacheHttp: async (origin, options) => {
    const listener = cacheHttp((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, TAGGED).end(origin.body())
    }, options)
    const server = await listen(listener)
    open.push(() => server.close())
    return { url: server.url, httpCache: listener.httpCache }
  },
  cacheExpress: async (origin, options) => {
    const app = express()
    const middleware = cacheExpress(options)
    app.use(middleware)
    app.get('/item', (_req, res) => {
      res.set(TAGGED).send(origin.body())
    })
    const server = await listen(app)
    open.push(() => server.close())
    return { url: server.url, httpCache: middleware.httpCache }
  },
  cacheFastify: async (origin, options) => {
    const app = Fastify()
    const plugin = cacheFastify(options)
    await app.register(plugin)
    app.get('/item', async (_req, reply) => reply.headers(TAGGED).send(origin.body()))
    await app.listen({ port: 0, host: '127.0.0.1' })
    open.push(() => app.close())
    const { port } = app.server.address() as { port: number }
    return { url: `http://127.0.0.1:${port}`, httpCache: plugin.httpCache }
  },
  cacheFetch: async (origin, options) => {
    const handler = cacheFetch(async () => new Response(origin.body(), { headers: TAGGED }), options)
    const server = await listen(fetchListener(handler))
    open.push(() => server.close())
    return { url: server.url, httpCache: handler.httpCache }
  },
}

/** A response cache on a store that fails on demand, with the errors it reported. */
function chaosCache() {
  const store = new ChaosStore(new MemoryStore())
  const cache = new TierCache<HttpCacheValue>({ name: `sf-${Math.random()}`, store, storeTimeout: 50 })
  const errors: TierCacheError[] = []
  cache.on('error', (error) => errors.push(error))
  open.push(async () => cache.close())
  return { store, cache, errors }
}

describe.each(Object.entries(integrations))('%s with a failing shared store', (_name, start) => {
  it.each(['throw', 'stall'] as const)(
    'store %s: answered from the origin (MISS), reported, nothing unvouched served, HITs once the store is back',
    async (mode) => {
      const { store, cache, errors } = chaosCache()
      const origin = new Origin()
      const { url } = await start(origin, { cache, ttl: 60_000 })
      store.mode = mode

      // Every request reaches the origin: a tagged response cannot be vouched for without the store.
      for (let i = 1; i <= 2; i++) {
        const got = await get(`${url}/item`)
        expect(got).toMatchObject({ status: 200, body: `item #${i}` })
        expect(got.headers['x-cache']).toBe('MISS')
      }
      expect(origin.hits).toBe(2)
      expect(errors.length).toBeGreaterThan(0)
      expect(errors.every((error) => error instanceof StoreError)).toBe(true)

      // The store is back: one fill, then HITs.
      store.mode = 'ok'
      const filled = await get(`${url}/item`)
      expect(filled).toMatchObject({ status: 200, body: 'item #3' })
      const hit = await get(`${url}/item`)
      expect(hit).toMatchObject({ status: 200, body: 'item #3' })
      expect(hit.headers['x-cache']).toBe('HIT')
      expect(origin.hits).toBe(3)
    },
    10_000,
  )

  it.each(['throw', 'stall'] as const)(
    'store %s: purgeUrl and purgeTag reject with a StoreError instead of seeming to succeed',
    async (mode) => {
      const { store, cache } = chaosCache()
      const origin = new Origin()
      const { url, httpCache } = await start(origin, { cache, ttl: 60_000 })
      await get(`${url}/item`)
      expect((await get(`${url}/item`)).headers['x-cache']).toBe('HIT')
      store.mode = mode
      await expect(httpCache.purgeUrl(`${url}/item`)).rejects.toBeInstanceOf(StoreError)
      await expect(httpCache.purgeTag('items')).rejects.toBeInstanceOf(StoreError)
      // The purging node let go of its copy all the same: the origin answers.
      const after = await get(`${url}/item`)
      expect(after).toMatchObject({ status: 200, body: 'item #2' })
      expect(after.headers['x-cache']).toBe('MISS')
    },
    10_000,
  )
})

describe('a varying response with a failing shared store', () => {
  it('a variant whose store write failed is still answered from the origin (MISS), and cached once the store is back', async () => {
    const { store, cache, errors } = chaosCache()
    let hits = 0
    const listener = cacheHttp(
      (req: IncomingMessage, res: ServerResponse) => {
        hits++
        res
          .writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', vary: 'accept-language' })
          .end(`${req.headers['accept-language']} #${hits}`)
      },
      { cache, ttl: 60_000 },
    )
    const server = await listen(listener)
    open.push(() => server.close())
    store.mode = 'throw'
    for (const language of ['en', 'fr']) {
      const got = await get(`${server.url}/page`, { headers: { 'accept-language': language } })
      expect(got.status).toBe(200)
      expect(got.body).toMatch(new RegExp(`^${language} #`))
      expect(got.headers['x-cache']).toBe('MISS')
    }
    expect(errors.some((error) => error instanceof StoreError)).toBe(true)

    store.mode = 'ok'
    const filled = await get(`${server.url}/page`, { headers: { 'accept-language': 'en' } })
    expect(filled.status).toBe(200)
    const hit = await get(`${server.url}/page`, { headers: { 'accept-language': 'en' } })
    expect(hit).toMatchObject({ status: 200, body: filled.body })
    expect(hit.headers['x-cache']).toBe('HIT')
    const other = await get(`${server.url}/page`, { headers: { 'accept-language': 'fr' } })
    expect(other.body).toMatch(/^fr #/)
  })
})
