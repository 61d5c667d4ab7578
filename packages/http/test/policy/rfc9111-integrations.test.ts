import { TierCache } from '@tiercache/core'
import { cacheExpress, cacheFastify, cacheFetch, type HttpCacheValue } from '@tiercache/http'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { fetchListener, get, listen } from '../servers.js'

const closing: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await Promise.all(closing.splice(0).map((close) => close()))
})

const options = () => ({
  cache: new TierCache<HttpCacheValue>({ name: `rfc9111-${Math.random()}` }),
  policy: 'rfc9111' as const,
})

/** Every integration: a cached page, a POST to it, and the page fetched afresh (RFC 9111 §4.4). */
async function invalidatesAfterPost(url: string, hits: () => number) {
  expect((await get(`${url}/page`)).body).toBe('page #1')
  expect((await get(`${url}/page`)).headers['x-cache']).toBe('HIT')
  expect(
    (await get(`${url}/page`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })).status,
  ).toBe(204)
  const after = await get(`${url}/page`)
  expect(after.headers['x-cache']).toBe('MISS')
  expect(after.body).toBe('page #2')
  expect(hits()).toBe(2)
}

describe("policy: 'rfc9111' in every integration: a POST invalidates the page it targets", () => {
  it('Express', async () => {
    let hits = 0
    const app = express()
    app.use(cacheExpress(options()))
    app.get('/page', (_req, res) => {
      hits++
      res.set('cache-control', 'max-age=3600').type('text/plain').send(`page #${hits}`)
    })
    app.post('/page', (_req, res) => {
      res.status(204).end()
    })
    const server = await listen(app)
    closing.push(() => server.close())
    await invalidatesAfterPost(server.url, () => hits)
  })

  it('Fastify', async () => {
    let hits = 0
    const app = Fastify()
    await app.register(cacheFastify(options()))
    app.get('/page', async (_req, reply) => {
      hits++
      return reply.header('cache-control', 'max-age=3600').type('text/plain').send(`page #${hits}`)
    })
    app.post('/page', async (_req, reply) => reply.code(204).send())
    await app.listen({ port: 0, host: '127.0.0.1' })
    closing.push(() => app.close())
    const { port } = app.server.address() as { port: number }
    await invalidatesAfterPost(`http://127.0.0.1:${port}`, () => hits)
  })

  it('fetch (Hono)', async () => {
    let hits = 0
    const app = new Hono()
    app.get('/page', (c) => {
      hits++
      c.header('cache-control', 'max-age=3600')
      return c.text(`page #${hits}`)
    })
    app.post('/page', (c) => c.body(null, 204))
    const server = await listen(fetchListener(cacheFetch((request) => app.fetch(request), options())))
    closing.push(() => server.close())
    await invalidatesAfterPost(server.url, () => hits)
  })
})
