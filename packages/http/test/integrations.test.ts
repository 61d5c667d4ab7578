import { brotliCompressSync, gzipSync } from 'node:zlib'
import { TierCache } from '@tiercache/core'
import { cacheExpress, cacheFastify, cacheFetch, type HttpCacheValue, normalisedCacheKey } from '@tiercache/http'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { clockedCache, fetchListener, get, type Listening, listen, nextLoad, sleep, type TestClock } from './servers.js'

const open: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()))
})

const newCache = () => new TierCache<HttpCacheValue>({ name: `it-${Math.random()}` })

async function serve(listener: Parameters<typeof listen>[0]): Promise<Listening> {
  const server = await listen(listener)
  open.push(() => server.close())
  return server
}

/** The behaviour every integration must show, through a real server and client. */
async function sharedBehaviour(url: string, hits: () => number, time: Timed) {
  const miss = await get(`${url}/item?b=2&a=1`)
  expect(miss).toMatchObject({ status: 200, body: 'item #1' })
  expect(miss.headers['x-cache']).toBe('MISS')
  const hit = await get(`${url}/item?a=1&b=2`)
  expect(hit).toMatchObject({ status: 200, body: 'item #1' })
  expect(hit.headers['x-cache']).toBe('HIT')
  expect(hit.headers['content-type']).toMatch(/^text\/plain/)
  const concurrent = await Promise.all(Array.from({ length: 100 }, () => get(`${url}/burst`)))
  expect(concurrent.every((a) => a.status === 200)).toBe(true)
  expect(hits()).toBe(2)
  const cookie = await get(`${url}/cookie`)
  expect(cookie.headers['set-cookie']).toEqual(['sid=1'])
  expect((await get(`${url}/cookie`)).headers['x-cache']).toBe('MISS')
  const bypass = await get(`${url}/item?a=1&b=2`, { headers: { authorization: 'Basic x' } })
  expect(bypass.headers['x-cache']).toBe('BYPASS')
  const notModified = await get(`${url}/etag`)
  const conditional = await get(`${url}/etag`, { headers: { 'if-none-match': String(notModified.headers.etag) } })
  expect(conditional.status).toBe(304)
  time.clock.advance(350)
  const refreshed = nextLoad(time.cache)
  const stale = await get(`${url}/item?a=1&b=2`)
  expect(stale.headers['x-cache']).toBe('UPDATING')
  expect(stale.body).toBe('item #1')
  // The background refresh ran through the integration's own subrequest, with no client waiting
  // (#3 was the BYPASS request, which went to the origin).
  await refreshed
  const after = await get(`${url}/item?a=1&b=2`)
  expect(after).toMatchObject({ body: 'item #4' })
  expect(after.headers['x-cache']).toBe('HIT')
  expect(hits()).toBe(4)
}

/** A cache on a clock the test moves, and the options every integration gets. */
interface Timed {
  readonly cache: TierCache<HttpCacheValue>
  readonly clock: TestClock
  readonly options: {
    cache: TierCache<HttpCacheValue>
    ttl: number
    staleTtl: number
    key: typeof normalisedCacheKey
  }
}

function timed(): Timed {
  const { cache, clock } = clockedCache()
  // The shared behaviour requests one item under two query orders: the opt-in key makes them one.
  return { cache, clock, options: { cache, ttl: 300, staleTtl: 30_000, key: normalisedCacheKey } }
}

describe('integrations', () => {
  it('Express 5 middleware', async () => {
    let hits = 0
    const app = express()
    const time = timed()
    app.use(cacheExpress(time.options))
    app.get('/item', (_req, res) => {
      hits++
      res.type('text/plain').send(`item #${hits}`)
    })
    app.get('/burst', async (_req, res) => {
      hits++
      await sleep(100)
      res.type('text/plain').send('burst')
    })
    app.get('/cookie', (_req, res) => {
      res.set('set-cookie', 'sid=1').type('text/plain').send('with cookie')
    })
    app.get('/etag', (_req, res) => {
      res.set('etag', '"e1"').type('text/plain').send('tagged')
    })
    const server = await serve(app)
    await sharedBehaviour(server.url, () => hits, time)
  })

  it("Express: routes mounted on a sub-router are cached, unmatched paths give the app's own 404", async () => {
    let hits = 0
    const app = express()
    const router = express.Router()
    router.get('/thing', (_req, res) => {
      hits++
      res.send(`thing ${hits}`)
    })
    app.use('/api', cacheExpress({ cache: newCache() }), router)
    const server = await serve(app)
    expect((await get(`${server.url}/api/thing`)).body).toBe('thing 1')
    const hit = await get(`${server.url}/api/thing`)
    expect(hit).toMatchObject({ body: 'thing 1' })
    expect(hit.headers['x-cache']).toBe('HIT')
    const missing = await get(`${server.url}/api/nothing`)
    expect(missing.status).toBe(404)
    expect((await get(`${server.url}/api/nothing`)).headers['x-cache']).toBe('HIT') // 404 is in the default statuses
  })

  it('Fastify 5 plugin', async () => {
    let hits = 0
    const app = Fastify()
    const time = timed()
    await app.register(cacheFastify(time.options))
    app.get('/item', async (_req, reply) => {
      hits++
      return reply.type('text/plain').send(`item #${hits}`)
    })
    app.get('/burst', async (_req, reply) => {
      hits++
      await sleep(100)
      return reply.type('text/plain').send('burst')
    })
    app.get('/cookie', async (_req, reply) => reply.header('set-cookie', 'sid=1').type('text/plain').send('c'))
    app.get('/etag', async (_req, reply) => reply.header('etag', '"e1"').type('text/plain').send('tagged'))
    await app.listen({ port: 0, host: '127.0.0.1' })
    open.push(() => app.close())
    const { port } = app.server.address() as { port: number }
    await sharedBehaviour(`http://127.0.0.1:${port}`, () => hits, time)
  })

  it('fetch-style wrapper around a Hono app', async () => {
    let hits = 0
    const app = new Hono()
    app.get('/item', (c) => {
      hits++
      return c.text(`item #${hits}`)
    })
    app.get('/burst', async (c) => {
      hits++
      await sleep(100)
      return c.text('burst')
    })
    app.get('/cookie', (c) => {
      c.header('set-cookie', 'sid=1')
      return c.text('c')
    })
    app.get('/etag', (c) => {
      c.header('etag', '"e1"')
      return c.text('tagged')
    })
    const time = timed()
    const server = await serve(fetchListener(cacheFetch((request) => app.fetch(request), time.options)))
    await sharedBehaviour(server.url, () => hits, time)
  })

  it('fetch-style wrapper as a caching reverse proxy with undici fetch towards an upstream server', async () => {
    let hits = 0
    const upstream = await serve((req, res) => {
      if (req.url?.startsWith('/item') || req.url === '/burst') hits++
      res.setHeader('content-type', 'text/plain')
      if (req.url === '/cookie') res.setHeader('set-cookie', 'sid=1')
      if (req.url === '/etag') res.setHeader('etag', '"e1"')
      if (req.url === '/burst') return void setTimeout(() => res.end('burst'), 100)
      res.end(req.url?.startsWith('/item') ? `item #${hits}` : 'x')
    })
    const time = timed()
    const proxy = cacheFetch((request) => {
      const target = new URL(request.url)
      return fetch(`${upstream.url}${target.pathname}${target.search}`, {
        method: request.method,
        headers: request.headers,
        signal: request.signal,
      })
    }, time.options)
    const server = await serve(fetchListener(proxy))
    await sharedBehaviour(server.url, () => hits, time)
  })

  it('fetch-style reverse proxy: an upstream that compresses (fetch decodes the body) is cached and served decoded', async () => {
    const text = 'compressible '.repeat(50)
    const upstream = await serve((req, res) => {
      const encoding = req.url === '/br' ? 'br' : 'gzip'
      const body = encoding === 'br' ? brotliCompressSync(text) : gzipSync(text)
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': encoding, 'content-length': body.length })
      res.end(body)
    })
    // The reverse proxy of docs/http.md: fetch asks for gzip/br itself and hands back the body decoded.
    const proxy = cacheFetch((request) => fetch(new URL(new URL(request.url).pathname, upstream.url), request), {
      cache: newCache(),
    })
    for (const path of ['/gzip', '/br']) {
      for (const expected of ['MISS', 'HIT']) {
        const answer = await proxy(new Request(`http://shop.example${path}`))
        expect(answer.status, `${path} ${expected}`).toBe(200)
        expect(answer.headers.get('x-cache')).toBe(expected)
        expect(answer.headers.get('content-encoding'), 'a decoded body labelled as encoded').toBeNull()
        expect(await answer.text()).toBe(text)
      }
    }
  })

  it('fetch-style wrapper caching POST: a chunked body past maxBodySize is passed on at the bound, not read whole first', async () => {
    const seen: number[] = []
    const handler = cacheFetch(
      async (request) => {
        // The origin reads what it wants of the body; the client's stream is still open.
        const reader = request.body!.getReader()
        const first = await reader.read()
        seen.push(first.value?.byteLength ?? 0)
        await reader.cancel()
        return new Response('took it')
      },
      { cache: newCache(), methods: 'GET POST', maxBodySize: 1_000 },
    )
    let timer: NodeJS.Timeout | undefined
    // 4 KiB at once, then a client that keeps its upload open (no Content-Length: nothing declares the size).
    const upload = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(4_096))
        timer = setTimeout(() => controller.close(), 10_000)
      },
    })
    const answer = await Promise.race([
      handler(new Request('http://shop.example/rpc', { method: 'POST', body: upload, duplex: 'half' } as RequestInit)),
      sleep(1_000).then(() => undefined),
    ])
    clearTimeout(timer)
    expect(answer, 'the body was being read whole before the maxBodySize check').toBeDefined()
    expect(answer!.headers.get('x-cache')).toBe('BYPASS')
    expect(await answer!.text()).toBe('took it')
    expect(seen[0]).toBeGreaterThan(0)
  })
})
