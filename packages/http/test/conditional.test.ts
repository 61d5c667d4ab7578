import { afterEach, describe, expect, it } from 'vitest'
import { get, start, stopAll, TestOrigin } from './servers.js'

afterEach(stopAll)

const lastModified = 'Tue, 01 Oct 2024 10:00:00 GMT'

describe('conditional requests', () => {
  it('answers If-None-Match with 304 from the cache', async () => {
    const origin = new TestOrigin()
    origin.headers = { etag: '"abc"', 'cache-control': 'public' }
    const { url } = await start(origin)
    await get(`${url}/e`)
    const hit = await get(`${url}/e`, { headers: { 'if-none-match': 'W/"abc"' } })
    expect(hit.status).toBe(304)
    expect(hit.body).toBe('')
    expect(hit.headers.etag).toBe('"abc"')
    expect(hit.headers['x-cache']).toBe('HIT')
    const other = await get(`${url}/e`, { headers: { 'if-none-match': '"zzz"' } })
    expect(other).toMatchObject({ status: 200, body: 'v1' })
    expect(origin.count).toBe(1)
  })

  it('answers If-Modified-Since with 304 from the cache, and ignores it beside If-None-Match', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'last-modified': lastModified }
    const { url } = await start(origin)
    const miss = await get(`${url}/m`, { headers: { 'if-modified-since': lastModified } })
    expect(miss.status).toBe(304) // the client's validators never reach the origin; the answer comes from the entry
    expect(origin.seen[0]!.headers['if-modified-since']).toBeUndefined()
    expect((await get(`${url}/m`, { headers: { 'if-modified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' } })).status).toBe(
      200,
    )
    const both = await get(`${url}/m`, { headers: { 'if-modified-since': lastModified, 'if-none-match': '"nope"' } })
    expect(both.status).toBe(200)
  })

  it('revalidates an expired entry with its ETag and Last-Modified; a 304 from the origin is REVALIDATED', async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => {
      if (req.headers['if-none-match'] === '"abc"') {
        res.writeHead(304, { etag: '"abc"', 'x-refreshed': 'yes' })
        return res.end()
      }
      res.writeHead(200, { etag: '"abc"', 'last-modified': lastModified, 'content-type': 'text/plain' })
      res.end('body kept')
    }
    const { url, clock } = await start(origin, { ttl: 200 })
    await get(`${url}/r`)
    clock.advance(300)
    const revalidated = await get(`${url}/r`)
    expect(revalidated).toMatchObject({ status: 200, body: 'body kept' })
    expect(revalidated.headers['x-cache']).toBe('REVALIDATED')
    expect(revalidated.headers['x-refreshed']).toBe('yes') // the 304's headers update the entry (RFC 9111 §4.3.4)
    expect(origin.seen[1]!.headers['if-none-match']).toBe('"abc"')
    expect(origin.seen[1]!.headers['if-modified-since']).toBe(lastModified)
    const hit = await get(`${url}/r`)
    expect(hit).toMatchObject({ body: 'body kept' })
    expect(hit.headers['x-cache']).toBe('HIT')
  })

  it('with revalidate: false, an expired entry is fetched whole (EXPIRED)', async () => {
    const origin = new TestOrigin()
    origin.headers = { etag: '"abc"' }
    const { url, clock } = await start(origin, { ttl: 200, revalidate: false, staleIfError: 10_000 })
    await get(`${url}/n`)
    clock.advance(300)
    const again = await get(`${url}/n`)
    expect(again.headers['x-cache']).toBe('EXPIRED')
    expect(origin.seen[1]!.headers['if-none-match']).toBeUndefined()
  })

  it('an expired entry without validators is not kept past the stale windows: the next request is a MISS', async () => {
    const origin = new TestOrigin()
    const { url, clock } = await start(origin, { ttl: 200 })
    await get(`${url}/gone`)
    clock.advance(300)
    expect((await get(`${url}/gone`)).headers['x-cache']).toBe('MISS')
  })

  it('a 304 that sets a cookie (or says private / no-store) does not put it in the entry served to others', async () => {
    const origin = new TestOrigin()
    let notModified: Record<string, string> = {}
    origin.respond = (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') return res.writeHead(304, { etag: '"v1"', ...notModified }).end()
      res.writeHead(200, { etag: '"v1"', 'content-type': 'text/plain' }).end('page')
    }
    const { url, clock } = await start(origin, { ttl: 200 })
    for (const [field, value] of [
      ['set-cookie', 'session=first-client'],
      ['cache-control', 'private'],
      ['cache-control', 'no-store'],
    ] as const) {
      notModified = {}
      const path = `/${field}-${value}`
      await get(`${url}${path}`)
      clock.advance(300)
      notModified = { [field]: value }
      const revalidated = await get(`${url}${path}`)
      expect(revalidated.headers['x-cache']).toBe('REVALIDATED')
      expect(String(revalidated.headers[field])).toBe(value) // the client whose request it was gets it
      const other = await get(`${url}${path}`)
      expect(other.body).toBe('page')
      expect(other.headers[field], `${field}: ${value} from a 304 was served from the cache`).toBeUndefined()
    }
  })

  it("a 304 whose validator is not the entry's does not revalidate it: the response is fetched whole (RFC 9111 §4.3.4)", async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => {
      // A misbehaving origin: the resource changed to v2, yet it answers the entry's v1 validator with 304.
      if (req.headers['if-none-match'] !== undefined) return res.writeHead(304, { etag: '"v2"' }).end()
      const version = origin.count === 1 ? 'v1' : 'v2'
      res.writeHead(200, { etag: `"${version}"`, 'content-type': 'text/plain' }).end(`page ${version}`)
    }
    const { url, clock } = await start(origin, { ttl: 200 })
    await get(`${url}/changed`)
    clock.advance(300)
    const again = await get(`${url}/changed`)
    expect(again.headers.etag).toBe('"v2"')
    expect(again.body, 'the v1 body was served under the v2 validator').toBe('page v2')
    expect(again.headers['x-cache']).toBe('EXPIRED')
    expect(origin.seen[2]!.headers['if-none-match']).toBeUndefined() // the second trip was unconditional
  })
})
