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

describe('tiercache-proxy --redis: two processes, one cache', () => {
  let redis: RedisServer
  let origin: Origin
  let proxies: ProxyProcess[]

  beforeAll(async () => {
    redis = await startRedisServer(REDIS_PORT)
    origin = new Origin()
    const originUrl = await origin.listen()
    const config = join(tmpdir(), `tiercache-proxy-cluster-${process.pid}.json`)
    // Its own namespace, so nothing another run left in this Redis is served.
    writeFileSync(config, JSON.stringify({ purgeToken: 's3cret', name: `proxy-test-${process.pid}-${Date.now()}` }))
    proxies = []
    for (const port of PORTS) {
      const args = [
        '--origin',
        originUrl,
        '--redis',
        redis.url,
        '--ttl',
        '60s',
        '--access-log',
        'off',
        '--config',
        config,
      ]
      proxies.push(await startBin(port, args))
    }
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
})
