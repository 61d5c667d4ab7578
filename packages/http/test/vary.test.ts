import { afterEach, describe, expect, it } from 'vitest'
import { get, nextLoad, start, stopAll, TestOrigin } from './servers.js'

afterEach(stopAll)

describe('Vary', () => {
  it("keeps one response per Accept-Encoding: one encoding is never served another one's response", async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => {
      res.setHeader('vary', 'Accept-Encoding')
      res.end(`encoded for ${req.headers['accept-encoding'] ?? 'identity'}`)
    }
    const { url } = await start(origin)
    const gzip = { 'accept-encoding': 'gzip' }
    const br = { 'accept-encoding': 'br' }
    expect((await get(`${url}/v`, { headers: gzip })).body).toBe('encoded for gzip')
    const brFirst = await get(`${url}/v`, { headers: br })
    expect(brFirst.body).toBe('encoded for br')
    expect(brFirst.headers['x-cache']).toBe('MISS')
    const gzipAgain = await get(`${url}/v`, { headers: gzip })
    expect(gzipAgain.body).toBe('encoded for gzip')
    expect(gzipAgain.headers['x-cache']).toBe('HIT')
    const brAgain = await get(`${url}/v`, { headers: br })
    expect(brAgain.body).toBe('encoded for br')
    expect(brAgain.headers['x-cache']).toBe('HIT')
    const none = await get(`${url}/v`)
    expect(none.body).toBe('encoded for identity')
    expect(origin.count).toBe(3)
  })

  it('normalises whitespace in the varying header values', async () => {
    const origin = new TestOrigin()
    origin.headers = { vary: 'accept-encoding' }
    const { url } = await start(origin)
    await get(`${url}/w`, { headers: { 'accept-encoding': 'gzip, br' } })
    expect((await get(`${url}/w`, { headers: { 'accept-encoding': 'gzip,br' } })).headers['x-cache']).toBe('HIT')
  })

  it('concurrent requests with different values each get their own variant', async () => {
    const origin = new TestOrigin()
    origin.delay = 100
    origin.respond = (req, res) => {
      res.setHeader('vary', 'x-variant')
      res.end(String(req.headers['x-variant']))
    }
    const { url } = await start(origin)
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => get(`${url}/c`, { headers: { 'x-variant': String(i % 3) } })),
    )
    expect(answers.map((answer) => answer.body)).toEqual(answers.map((_, i) => String(i % 3)))
    expect(origin.count).toBeLessThanOrEqual(3)
  })

  it('Vary: * is never cached', async () => {
    const origin = new TestOrigin()
    origin.headers = { vary: '*' }
    const { url } = await start(origin)
    await get(`${url}/star`)
    expect((await get(`${url}/star`)).headers['x-cache']).toBe('MISS')
  })
})

describe('Vary index renewal', () => {
  it('an expired Vary index is renewed without the origin and keeps its variants', async () => {
    const origin = new TestOrigin()
    origin.headers = { vary: 'accept-language' }
    const { url, clock, cache } = await start(origin, { varyTtl: 200 })
    const fr = { 'accept-language': 'fr' }
    await get(`${url}/i`, { headers: fr })
    clock.advance(300) // the index is stale now, its variant (ttl 60 s) is not
    const renewed = nextLoad(cache)
    const hit = await get(`${url}/i`, { headers: fr })
    expect(hit.headers['x-cache']).toBe('HIT')
    await renewed
    expect((await get(`${url}/i`, { headers: fr })).headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(1)
  })
})
