import { afterEach, describe, expect, it } from 'vitest'
import { get, nextLoadFailure, start, stopAll, type TestClock, TestOrigin } from './servers.js'

afterEach(stopAll)

/** Fill `/p` with v1, let it expire, then break the origin in the given way. */
async function expiredThenBroken(origin: TestOrigin, at: { url: string; clock: TestClock }, ttl: number) {
  const { url, clock } = at
  const fill = await get(`${url}/p`)
  expect(fill.headers['x-cache']).toBe('MISS')
  clock.advance(ttl + 100)
  origin.body = 'v2'
}

describe('stale-if-error', () => {
  it('serves the stale response with STALE when the origin answers 5xx, and no 5xx reaches the client', async () => {
    const origin = new TestOrigin()
    const { url, clock } = await start(origin, { ttl: 200, staleIfError: 30_000 })
    await expiredThenBroken(origin, { url, clock }, 200)
    origin.status = 503
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(`${url}/p`)))
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 200, body: 'v1' })
      expect(answer.headers['x-cache']).toBe('STALE')
    }
    expect(origin.count).toBe(2) // one failed attempt; the resurrected entry shields the origin
  })

  it('serves stale when the origin handler throws', async () => {
    const origin = new TestOrigin()
    const { url, clock } = await start(origin, { ttl: 200, staleIfError: 30_000 })
    await expiredThenBroken(origin, { url, clock }, 200)
    origin.mode = 'throw'
    const answer = await get(`${url}/p`)
    expect(answer).toMatchObject({ status: 200, body: 'v1' })
    expect(answer.headers['x-cache']).toBe('STALE')
  })

  it('serves stale when the origin does not answer within originTimeout', async () => {
    const origin = new TestOrigin()
    const { url, clock } = await start(origin, { ttl: 200, staleIfError: 30_000, originTimeout: 300 })
    await expiredThenBroken(origin, { url, clock }, 200)
    origin.mode = 'hang'
    const answer = await get(`${url}/p`)
    expect(answer).toMatchObject({ status: 200, body: 'v1' })
    expect(answer.headers['x-cache']).toBe('STALE')
    expect(answer.ms).toBeLessThan(2_000)
  })

  it('inside the stale-while-revalidate window, a failing origin turns UPDATING into STALE', async () => {
    const origin = new TestOrigin()
    const { url, clock, cache } = await start(origin, { ttl: 200, staleTtl: 30_000 })
    await expiredThenBroken(origin, { url, clock }, 200)
    origin.status = 500
    const failed = nextLoadFailure(cache)
    const first = await get(`${url}/p`)
    expect(first.headers['x-cache']).toBe('UPDATING') // nobody knows yet that the refresh will fail
    await failed
    const next = await get(`${url}/p`)
    expect(next).toMatchObject({ status: 200, body: 'v1' })
    expect(next.headers['x-cache']).toBe('STALE')
  })

  it('recovers: once the origin is back (after resurrectTtl), the fresh response replaces the stale one', async () => {
    const origin = new TestOrigin()
    const { url, clock } = await start(origin, { ttl: 200, staleIfError: 30_000, resurrectTtl: 300 })
    await expiredThenBroken(origin, { url, clock }, 200)
    origin.status = 503
    expect((await get(`${url}/p`)).headers['x-cache']).toBe('STALE')
    origin.status = 200
    expect((await get(`${url}/p`)).headers['x-cache']).toBe('STALE') // resurrected for 300 ms
    clock.advance(400)
    const back = await get(`${url}/p`)
    expect(back).toMatchObject({ status: 200, body: 'v2' })
    expect(back.headers['x-cache']).toBe('EXPIRED')
  })

  it("without a stale entry, the client gets the origin's own 5xx (or 502 when it threw), shared by concurrent waiters", async () => {
    const origin = new TestOrigin()
    origin.status = 503
    origin.body = 'maintenance'
    origin.delay = 100
    const { url } = await start(origin)
    const answers = await Promise.all(Array.from({ length: 10 }, () => get(`${url}/down`)))
    expect(answers.every((a) => a.status === 503 && a.body === 'maintenance')).toBe(true)
    expect(origin.count).toBe(1)
    origin.mode = 'throw'
    const threw = await get(`${url}/thrown`)
    expect(threw.status).toBe(502)
    expect(threw.headers['x-cache']).toBe('MISS')
  })

  it('an origin error page that sets a cookie (or says private) is not handed to the other waiters: they ask the origin themselves', async () => {
    const origin = new TestOrigin()
    origin.respond = (req, res) => {
      const user = String(req.headers['x-user'])
      const headers = req.url === '/cookie' ? { 'set-cookie': `session=${user}` } : { 'cache-control': 'private' }
      setTimeout(() => res.writeHead(503, { 'content-type': 'text/plain', ...headers }).end(`sorry ${user}`), 100)
    }
    const { url } = await start(origin)
    for (const path of ['/cookie', '/private']) {
      const users = ['alice', 'bob', 'carol']
      const answers = await Promise.all(users.map((user) => get(`${url}${path}`, { headers: { 'x-user': user } })))
      answers.forEach((answer, i) => {
        expect(answer.status).toBe(503)
        expect(answer.body, `${path}: ${users[i]} was handed another client's error page`).toBe(`sorry ${users[i]}`)
      })
    }
  })
})
