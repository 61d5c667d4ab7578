import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { get, sleep, start, stopAll, TestOrigin } from '../servers.js'

afterEach(stopAll)

// `start` sets ttl: 60_000; under rfc9111 that would be the heuristic lifetime, so leave it at its default (0).
const rfc9111 = { policy: 'rfc9111', ttl: undefined } as const

describe("cacheHttp with policy: 'rfc9111'", () => {
  it('does not reuse a response without explicit or heuristic freshness (the nginx policy would, for ttl)', async () => {
    const origin = new TestOrigin()
    const { url } = await start(origin, rfc9111)
    await get(`${url}/none`)
    expect((await get(`${url}/none`)).headers['x-cache']).toBe('MISS')
    expect(origin.count).toBe(2)
  })

  it('stores a 503 with max-age as a response, and serves it from the cache', async () => {
    const origin = new TestOrigin()
    origin.status = 503
    origin.headers = { 'cache-control': 'max-age=60' }
    const { url } = await start(origin, rfc9111)
    expect((await get(`${url}/down`)).status).toBe(503)
    const again = await get(`${url}/down`)
    expect(again).toMatchObject({ status: 503, body: 'v1' })
    expect(again.headers['x-cache']).toBe('HIT')
  })

  it('stores a no-cache response and revalidates it on every reuse', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cache-control': 'no-cache', etag: '"1"' }
    origin.respond = (req, res) => {
      if (req.headers['if-none-match'] === '"1"') res.writeHead(304, { etag: '"1"' }).end()
      else res.writeHead(200, origin.headers).end('body')
    }
    const { url, clock } = await start(origin, rfc9111)
    await get(`${url}/nc`)
    clock.advance(5)
    const second = await get(`${url}/nc`)
    expect(second).toMatchObject({ status: 200, body: 'body' })
    expect(second.headers['x-cache']).toBe('REVALIDATED')
    expect(origin.seen[1]!.headers['if-none-match']).toBe('"1"')
  })

  it('invalidates the target and same-origin Location after a successful POST (RFC 9111 §4.4)', async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => {
      if (req.method === 'POST') res.writeHead(201, { location: '/items/7' }).end()
      else res.writeHead(200, { 'cache-control': 'max-age=3600' }).end(`${req.url} #${origin.count}`)
    }
    const { url } = await start(origin, rfc9111)
    await get(`${url}/items`)
    await get(`${url}/items/7`)
    expect((await get(`${url}/items`)).headers['x-cache']).toBe('HIT')
    expect((await get(`${url}/items`, { method: 'POST', body: '{}' })).status).toBe(201)
    expect((await get(`${url}/items`)).headers['x-cache']).toBe('MISS')
    expect((await get(`${url}/items/7`)).headers['x-cache']).toBe('MISS')
  })

  it('a POST whose client left before its answer still invalidates its target (the origin changed it all the same)', async () => {
    const origin = new TestOrigin()
    let version = 'v1'
    origin.respond = (req, res) => {
      if (req.method !== 'POST') return res.writeHead(200, { 'cache-control': 'max-age=3600' }).end(version)
      version = 'v2'
      setTimeout(() => res.writeHead(200).end('changed'), 100)
    }
    const { url } = await start(origin, rfc9111)
    await get(`${url}/doc`)
    expect((await get(`${url}/doc`)).headers['x-cache']).toBe('HIT')
    const left = new Promise<void>((resolve) => {
      const post = request(`${url}/doc`, { method: 'POST' })
      post.on('error', () => resolve())
      post.end('x', () => setTimeout(() => post.destroy(), 20))
    })
    await left
    await sleep(250) // the origin has answered the POST by now, to nobody
    const after = await get(`${url}/doc`)
    expect(after.body, 'the GET after the POST was served what the POST changed').toBe('v2')
    expect(after.headers['x-cache']).toBe('MISS')
  })

  it('answers a single byte Range from the stored complete response with a 206', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cache-control': 'max-age=3600' }
    origin.body = '0123456789'
    const { url } = await start(origin, rfc9111)
    await get(`${url}/file`)
    const part = await get(`${url}/file`, { headers: { range: 'bytes=2-4' } })
    expect(part).toMatchObject({ status: 206, body: '234' })
    expect(part.headers['content-range']).toBe('bytes 2-4/10')
    expect(origin.count).toBe(1)
  })

  it('serves a request with Authorization from the cache only when the response is public', async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) =>
      res.writeHead(200, { 'cache-control': req.url === '/public' ? 'max-age=60, public' : 'max-age=60' }).end('x')
    const { url } = await start(origin, rfc9111)
    const auth = { headers: { authorization: 'Basic x' } }
    await get(`${url}/public`, auth)
    expect((await get(`${url}/public`, auth)).headers['x-cache']).toBe('HIT')
    await get(`${url}/private`)
    expect((await get(`${url}/private`, auth)).headers['x-cache']).toBe('MISS') // stored for others, not for it
    expect(origin.count).toBe(3)
  })

  it('obeys CDN-Cache-Control over Cache-Control', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cdn-cache-control': 'max-age=60', 'cache-control': 'no-store' }
    const { url } = await start(origin, rfc9111)
    await get(`${url}/cdn`)
    expect((await get(`${url}/cdn`)).headers['x-cache']).toBe('HIT')
  })
})

describe("policy: 'rfc9111' when the origin fails", () => {
  it('serves stale within staleIfError, but never a must-revalidate response', async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) =>
      res
        .writeHead(200, {
          'cache-control': req.url === '/strict' ? 'max-age=1, must-revalidate' : 'max-age=1',
          etag: '"e"',
        })
        .end(`${req.url}`)
    const { url, clock } = await start(origin, rfc9111)
    await get(`${url}/lax`)
    await get(`${url}/strict`)
    clock.advance(1_100)
    origin.mode = 'throw'
    const lax = await get(`${url}/lax`)
    expect(lax).toMatchObject({ status: 200, body: '/lax' })
    expect(lax.headers['x-cache']).toBe('STALE')
    expect((await get(`${url}/strict`)).status).toBe(502)
  })
})

describe("policy: 'rfc9111' with POST among the cached methods", () => {
  it('a POST that reached the origin still invalidates the GET of its target', async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) =>
      res
        .writeHead(200, { 'cache-control': req.method === 'POST' ? 'no-store' : 'max-age=3600' })
        .end(`#${origin.count}`)
    const { url } = await start(origin, { ...rfc9111, methods: ['GET', 'HEAD', 'POST'] })
    await get(`${url}/form`)
    expect((await get(`${url}/form`)).headers['x-cache']).toBe('HIT')
    expect((await get(`${url}/form`, { method: 'POST', body: 'a=1' })).headers['x-cache']).toBe('MISS')
    expect((await get(`${url}/form`)).headers['x-cache']).toBe('MISS')
  })
})
