import { afterEach, describe, expect, it } from 'vitest'
import { get, start, stopAll, TestOrigin } from './servers.js'

afterEach(stopAll)

describe('what is never cached unless allowed', () => {
  it('a response with Set-Cookie goes to the origin every time (MISS), and its cookie never reaches another client', async () => {
    const origin = new TestOrigin()
    let n = 0
    origin.respond = (_req, res) => {
      n++
      res.setHeader('set-cookie', `session=${n}`)
      res.end(`hello ${n}`)
    }
    const { url } = await start(origin)
    const a = await get(`${url}/me`)
    const b = await get(`${url}/me`)
    expect([a.body, b.body]).toEqual(['hello 1', 'hello 2'])
    expect([a.headers['set-cookie'], b.headers['set-cookie']]).toEqual([['session=1'], ['session=2']])
    expect([a.headers['x-cache'], b.headers['x-cache']]).toEqual(['MISS', 'MISS'])
    expect(origin.count).toBe(2)
  })

  it("setCookie: 'strip' caches the response and serves it without the cookie, to every client", async () => {
    const origin = new TestOrigin()
    origin.headers = { 'set-cookie': 'session=1', 'content-type': 'text/plain' }
    const { url } = await start(origin, { setCookie: 'strip' })
    const first = await get(`${url}/strip`)
    const second = await get(`${url}/strip`)
    expect(first.headers['set-cookie']).toBeUndefined()
    expect(second.headers['set-cookie']).toBeUndefined()
    expect(second.headers['x-cache']).toBe('HIT')
  })

  it.each([['private'], ['no-store'], ['private, max-age=60'], ['private="set-cookie"']])(
    'Cache-Control: %s is never cached',
    async (cacheControl) => {
      const origin = new TestOrigin()
      origin.headers = { 'cache-control': cacheControl }
      const { url } = await start(origin)
      await get(`${url}/cc`)
      const second = await get(`${url}/cc`)
      expect(second.headers['x-cache']).toBe('MISS')
      expect(origin.count).toBe(2)
    },
  )

  it('allowPrivate / allowNoStore let such responses be cached', async () => {
    const origin = new TestOrigin()
    origin.headers = { 'cache-control': 'private, no-store' }
    const { url } = await start(origin, { allowPrivate: true, allowNoStore: true })
    await get(`${url}/ok`)
    expect((await get(`${url}/ok`)).headers['x-cache']).toBe('HIT')
  })

  it('a request with Authorization bypasses the cache: neither served from it nor stored', async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => res.end(req.headers.authorization ?? 'anonymous')
    const { url } = await start(origin)
    await get(`${url}/acct`)
    const authed = await get(`${url}/acct`, { headers: { authorization: 'Bearer alice' } })
    expect(authed.body).toBe('Bearer alice')
    expect(authed.headers['x-cache']).toBe('BYPASS')
    const anon = await get(`${url}/acct`)
    expect(anon.body).toBe('anonymous')
    expect(anon.headers['x-cache']).toBe('HIT')
  })

  it('methods outside the list bypass; statuses outside the list are not stored', async () => {
    const origin = new TestOrigin()
    origin.status = 302
    const { url } = await start(origin)
    const post = await get(`${url}/x`, { method: 'POST', body: 'a' })
    expect(post.headers['x-cache']).toBe('BYPASS')
    await get(`${url}/x`)
    expect((await get(`${url}/x`)).headers['x-cache']).toBe('MISS')
    expect(origin.count).toBe(3)
  })

  it('takes space-separated lists (statuses "200 405", methods "GET POST"), keyed on method + user agent + URI', async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => {
      let body = ''
      req.on('data', (chunk) => {
        body += chunk
      })
      req.on('end', () => {
        res.statusCode = req.url === '/405' ? 405 : 200
        res.end(`${req.method} ${req.headers['user-agent']} ${body}`)
      })
    }
    const { url } = await start(origin, {
      statuses: '200 405 ',
      methods: 'GET POST ',
      key: (req) => `${req.method}:${req.headers['user-agent'] ?? ''}:${req.url}`,
    })
    const ua = (name: string) => ({ 'user-agent': name })
    await get(`${url}/405`, { headers: ua('curl') })
    expect((await get(`${url}/405`, { headers: ua('curl') })).headers['x-cache']).toBe('HIT')
    expect((await get(`${url}/405`, { headers: ua('wget') })).headers['x-cache']).toBe('MISS')
    const post = await get(`${url}/rpc`, { method: 'POST', headers: ua('curl'), body: 'q=1' })
    expect(post).toMatchObject({ status: 200, body: 'POST curl q=1' })
    const again = await get(`${url}/rpc`, { method: 'POST', headers: ua('curl'), body: 'q=1' })
    expect(again.headers['x-cache']).toBe('HIT')
    expect(again.body).toBe('POST curl q=1')
  })
})

describe('bodies', () => {
  it('streams a body above maxBodySize through without caching it', async () => {
    const origin = new TestOrigin()
    const chunk = 'x'.repeat(16 * 1024)
    origin.respond = (_req, res) => {
      res.setHeader('content-type', 'text/plain')
      let sent = 0
      const pump = () => {
        while (sent < 64) {
          sent++
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      pump()
    }
    const { url } = await start(origin, { maxBodySize: 100 * 1024 })
    const first = await get(`${url}/big`)
    expect(first.body.length).toBe(64 * 16 * 1024)
    expect(first.headers['x-cache']).toBe('MISS')
    const second = await get(`${url}/big`)
    expect(second.body.length).toBe(64 * 16 * 1024)
    expect(second.headers['x-cache']).toBe('MISS')
    expect(origin.count).toBe(2)
  })

  it('a response streamed through uncached (too large, Set-Cookie) is not cut at originTimeout while it flows', async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', ...(req.url === '/cookie' ? { 'set-cookie': 'a=1' } : {}) })
      let sent = 0
      const timer = setInterval(() => {
        res.write('0123456789')
        if (++sent === 6) {
          clearInterval(timer)
          res.end()
        }
      }, 80)
    }
    // The origin answers at once and keeps sending; only the whole download outlasts originTimeout.
    const { url } = await start(origin, { maxBodySize: 15, originTimeout: 250 })
    for (const path of ['/large', '/cookie']) {
      const answer = await get(`${url}${path}`).catch((error: Error) => ({ body: `cut: ${error.message}` }))
      expect(answer.body, path).toBe('0123456789'.repeat(6))
    }
  })

  it('a declared Content-Length above maxBodySize passes through too', async () => {
    const origin = new TestOrigin()
    origin.body = 'y'.repeat(2_000)
    origin.headers = { 'content-length': '2000' }
    const { url } = await start(origin, { maxBodySize: 1_000 })
    const answer = await get(`${url}/declared`)
    expect(answer.body.length).toBe(2_000)
    expect((await get(`${url}/declared`)).headers['x-cache']).toBe('MISS')
  })

  it('serves HEAD from the GET entry, without a body, and fetches a HEAD miss as GET', async () => {
    const origin = new TestOrigin()
    origin.body = 'hello'
    const { url } = await start(origin)
    const head = await get(`${url}/h`, { method: 'HEAD' })
    expect(head.body).toBe('')
    expect(head.headers['content-length']).toBe('5')
    expect(origin.seen[0]!.method).toBe('GET')
    const got = await get(`${url}/h`)
    expect(got).toMatchObject({ body: 'hello' })
    expect(got.headers['x-cache']).toBe('HIT')
  })
})

describe('HEAD with convertHead: false', () => {
  it("a cached HEAD response keeps the origin's Content-Length (the GET's length), not the 0 of its empty body", async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' })
      res.end(req.method === 'HEAD' ? undefined : 'hello')
    }
    const { url } = await start(origin, { convertHead: false })
    for (const expected of ['MISS', 'HIT', 'HIT']) {
      const head = await get(`${url}/h`, { method: 'HEAD' })
      expect(head.headers['x-cache']).toBe(expected)
      expect(head.headers['content-length'], `HEAD ${expected}`).toBe('5')
    }
    expect(origin.seen.map((seen) => seen.method)).toEqual(['HEAD'])
    const got = await get(`${url}/h`)
    expect(got).toMatchObject({ body: 'hello' })
    expect(got.headers['content-length']).toBe('5')
  })
})

describe('lock timeout', () => {
  it("a request that waited lockTimeout for another one's fetch goes to the origin itself", async () => {
    const origin = new TestOrigin()
    origin.delay = 800
    const { url } = await start(origin, { lockTimeout: 200 })
    const [leader, waiter] = await Promise.all([
      get(`${url}/slow`),
      new Promise((r) => setTimeout(r, 20)).then(() => get(`${url}/slow`)),
    ])
    expect(leader.headers['x-cache']).toBe('MISS')
    expect(waiter.headers['x-cache']).toBe('MISS')
    expect(waiter.body).toBe('v1')
    expect(origin.count).toBe(2)
    expect((await get(`${url}/slow`)).headers['x-cache']).toBe('HIT')
  })
})

describe('cache key', () => {
  it("a Host with a path in it cannot put its response under another URL's key (cache poisoning)", async () => {
    const origin = new TestOrigin()
    // Like most apps (Express routes included), the origin serves by path whatever the Host says.
    origin.respond = (req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`page ${req.url}`)
    const { url, httpCache } = await start(origin)
    const attack = await get(`${url}/`, { headers: { host: 'victim.example/admin' } })
    expect(attack.body).toBe('page /')
    const victim = await get(`${url}/admin/`, { headers: { host: 'victim.example' } })
    expect(victim.body, 'the attacker\'s "/" was served for /admin/').toBe('page /admin/')
    expect(victim.headers['x-cache']).toBe('MISS')
    // Absolute-form: a Host ending in "http:" cannot meet a target "http://…" either.
    const keyOf = (host: string, path: string) => httpCache.keyOf({ method: 'GET', host, url: path, headers: {} })
    expect(keyOf('xhttp:', '//y/')).not.toBe(keyOf('x', 'http://y/'))
    expect(keyOf('example.com:8080', '/a')).toBe('GET example.com:8080/a') // a plain host is kept as it is
    expect(keyOf('[::1]:80', '/a')).toBe('GET [::1]:80/a')
  })
})
