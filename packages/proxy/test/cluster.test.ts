import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { Origin, type ProxyProcess, startBin } from './proxy-process.js'

// This file's own redis-server, and its proxies' HTTP ports.
const REDIS_PORT = 7094
const PORTS = [19_620, 19_621]
// A node started (and stopped) by one test; a pair with a short TTL.
const EXTRA_PORT = 19_622
const SHORT_TTL_PORTS = [19_623, 19_624]

describe('tiercache-proxy --redis: two processes, one cache', () => {
  let redis: RedisServer
  let origin: Origin
  let proxies: ProxyProcess[]

  let args: string[]

  beforeAll(async () => {
    redis = await startRedisServer(REDIS_PORT)
    origin = new Origin()
    const originUrl = await origin.listen()
    const config = join(tmpdir(), `tiercache-proxy-cluster-${process.pid}.json`)
    // Its own namespace, so nothing another run left in this Redis is served.
    writeFileSync(
      config,
      JSON.stringify({
        purgeToken: 's3cret',
        name: `proxy-test-${process.pid}-${Date.now()}`,
        shutdownTimeout: '300ms',
      }),
    )
    args = ['--origin', originUrl, '--redis', redis.url, '--ttl', '60s', '--access-log', 'off', '--config', config]
    proxies = []
    for (const port of PORTS) proxies.push(await startBin(port, args))
  })
  afterAll(async () => {
    for (const proxy of proxies ?? []) await proxy.stop()
    await origin?.close()
    await redis?.stop()
  })

  // Clients reach both nodes under one public Host, as behind a balancer (the key holds the Host).
  // (node:http, since fetch drops a Host header.)
  const get = (proxy: ProxyProcess, path: string) =>
    new Promise<{ cache: string | undefined; body: string }>((resolve, reject) => {
      request(`${proxy.url}${path}`, { headers: { host: 'www.example.test' } }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ cache: res.headers['x-cache'] as string | undefined, body }))
      })
        .on('error', reject)
        .end()
    })

  it('a response fetched through one node is a hit on the other; a purge on one reaches both within 1 s', async () => {
    const [a, b] = proxies as [ProxyProcess, ProxyProcess]
    expect(await get(a, '/shared')).toEqual({ cache: 'MISS', body: 'v1' })
    expect(await get(b, '/shared')).toEqual({ cache: 'HIT', body: 'v1' })
    expect(await get(b, '/shared')).toEqual({ cache: 'HIT', body: 'v1' })
    expect(origin.count).toBe(1)

    origin.body = 'v2'
    const purged = await fetch(`${a.url}/_tiercache/purge?tag=product-1`, {
      method: 'POST',
      headers: { authorization: 'Bearer s3cret' },
    })
    expect(purged.status).toBe(200)
    // The purge is one write to Redis; node b hears of it over pub/sub, within milliseconds, not before
    // the purge request returns: until then it may still answer v1 from its memory.
    const purgedAt = performance.now()
    let seen = await get(b, '/shared')
    while (seen.body === 'v1' && performance.now() - purgedAt < 1_000) seen = await get(b, '/shared')
    expect(seen).toEqual({ cache: 'MISS', body: 'v2' })
    expect(await get(a, '/shared')).toEqual({ cache: 'HIT', body: 'v2' })
    expect(origin.count).toBe(2)
  })

  it('after an expiry, the cluster asks the origin once, and every node serves the new version at once after', async () => {
    const config = join(tmpdir(), `tiercache-proxy-cluster-ttl-${process.pid}.json`)
    writeFileSync(config, JSON.stringify({ name: `proxy-ttl-${process.pid}-${Date.now()}` }))
    const short = ['--origin', args[1]!, '--redis', redis.url, '--ttl', '400ms', '--stale', '1m', '--access-log', 'off']
    const nodes: ProxyProcess[] = []
    try {
      for (const port of SHORT_TTL_PORTS) nodes.push(await startBin(port, [...short, '--config', config]))
      const [a, b] = nodes as [ProxyProcess, ProxyProcess]
      origin.body = 'v4'
      expect(await get(a, '/expiring')).toEqual({ cache: 'MISS', body: 'v4' })
      expect(await get(b, '/expiring')).toEqual({ cache: 'HIT', body: 'v4' })
      await new Promise((resolve) => setTimeout(resolve, 500))
      const count = origin.count
      origin.body = 'v5'
      origin.delay = 100
      // Both nodes hit by a burst once it expired: answered at once from the stale copy while ONE refresh runs.
      const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => get(nodes[i % 2]!, '/expiring')))
      expect(burst.filter((answer) => answer.body === 'v4').length).toBeGreaterThan(0)
      expect(burst.every((answer) => answer.body === 'v4' || answer.body === 'v5')).toBe(true)
      // The refresh landed: within a second both nodes serve v5 (one node's L1 copy is dropped over pub/sub).
      const since = performance.now()
      for (const node of nodes) {
        let seen = await get(node, '/expiring')
        while (seen.body === 'v4' && performance.now() - since < 1_000) seen = await get(node, '/expiring')
        expect(seen.body).toBe('v5')
      }
      expect(origin.count).toBe(count + 1)
    } finally {
      origin.delay = 0
      for (const node of nodes) await node.stop()
    }
  })

  it('SIGTERM: a request in flight finishes whole and its response is stored for the cluster', async () => {
    const leaving = await startBin(EXTRA_PORT, args)
    origin.body = 'v6'
    origin.delay = 150
    const answer = get(leaving, '/in-flight')
    while (!origin.urls.includes('/in-flight')) await new Promise((resolve) => setTimeout(resolve, 5))
    leaving.child.kill('SIGTERM')
    expect(await answer).toEqual({ cache: 'MISS', body: 'v6' })
    expect(await leaving.exited).toBe(0)
    origin.delay = 0
    const count = origin.count
    expect(await get(proxies[1]!, '/in-flight')).toEqual({ cache: 'HIT', body: 'v6' })
    expect(origin.count).toBe(count)
  })

  it('SIGTERM: an origin fetch still running at the shutdown timeout is cut, and nothing of it is stored', async () => {
    const leaving = await startBin(EXTRA_PORT, args)
    origin.body = 'v3-the-whole-body'
    origin.stall = 10_000 // half the body, then silence
    const answer = get(leaving, '/stalled').catch((error: Error) => error)
    while (!origin.urls.includes('/stalled')) await new Promise((resolve) => setTimeout(resolve, 5))
    const signalled = performance.now()
    leaving.child.kill('SIGTERM')
    // Gone within its 300 ms timeout (and the time to close), not when the origin finishes 10 s later.
    expect(await leaving.exited).toBe(0)
    expect(performance.now() - signalled).toBeLessThan(3_000)
    expect(await answer).toBeInstanceOf(Error)
    // No half of the body in the shared cache: the next node asks the origin and gets it whole.
    origin.stall = 0
    // Nor a lock left behind: the cut load released it, so this is not held up for the 5 s lock wait.
    const asked = performance.now()
    expect(await get(proxies[1]!, '/stalled')).toEqual({ cache: 'MISS', body: 'v3-the-whole-body' })
    expect(performance.now() - asked).toBeLessThan(2_500)
  })
})
