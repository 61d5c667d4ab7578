import { randomUUID } from 'node:crypto'
import { TierCache } from '@tiercache/core'
import { RedisStore } from '@tiercache/redis'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { instrument } from '../src/index.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The value of one sample of a text scrape, matched on every label given. */
function sample(scrape: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of scrape.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)\{(.*)\} (\S+)$/.exec(line)
    if (match?.[1] !== name) continue
    const have = new Map([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(match[3])
  }
  return undefined
}

// A server of our own on 7031 that the test freezes (SIGSTOP) and resumes.
describe('instrument(TierCache) on a RedisStore whose Redis freezes (own server on 127.0.0.1:7031)', () => {
  let server: RedisServer
  let store: RedisStore
  let client: Redis

  beforeAll(async () => {
    server = await startRedisServer(7031)
    client = new Redis(server.port, '127.0.0.1')
    client.on('error', () => {})
    store = new RedisStore({ client, breakerOpenMs: 300 })
  })
  afterAll(async () => {
    await store.close()
    client.disconnect()
    await server.stop()
  })

  it('store errors by kind and the circuit state follow what Redis does, traffic or not', async () => {
    const name = `metrics-${randomUUID()}`
    const cache = new TierCache<string>({ name, store })
    cache.on('error', () => {})
    const registry = new Registry()
    const metrics = instrument(cache, { registry })
    const scrape = async (metric: string, labels: Record<string, string>) =>
      sample(await registry.metrics(), `tiercache_${metric}`, { cache: name, ...labels })

    expect(await cache.get('a', async () => 'A')).toBe('A')
    expect(await scrape('store_duration_seconds_count', { store: 'redis', operation: 'get', result: 'ok' })).toBe(2)
    expect(await scrape('circuit_state', { store: 'redis', state: 'closed' })).toBe(1)

    process.kill(server.pid, 'SIGSTOP')
    try {
      // The read and the lock of b each time out (200 ms); a load whose read failed writes nothing back.
      expect(await cache.get('b', async () => 'B')).toBe('B')
      // The read of c times out too, the third, which opens the circuit: c's lock is refused at once.
      expect(await cache.get('c', async () => 'C')).toBe('C')
      expect(await scrape('store_errors_total', { kind: 'timeout' })).toBe(3)
      expect(await scrape('store_errors_total', { kind: 'circuit-open' })).toBe(1)
      expect(await scrape('circuit_state', { store: 'redis', state: 'open' })).toBe(1)
      expect(await scrape('store_duration_seconds_count', { store: 'redis', operation: 'get', result: 'error' })).toBe(
        2,
      )
      expect((await cache.health()).status).toBe('degraded')
    } finally {
      process.kill(server.pid, 'SIGCONT')
    }
    // No call from here on: the circuit closes on its own, and the gauge says so.
    for (let i = 0; i < 50 && (await scrape('circuit_state', { store: 'redis', state: 'closed' })) !== 1; i++) {
      await sleep(20)
    }
    expect(await scrape('circuit_state', { store: 'redis', state: 'closed' })).toBe(1)
    expect(await scrape('circuit_state', { store: 'redis', state: 'open' })).toBe(0)
    expect(await cache.health()).toMatchObject({ status: 'ok', store: { name: 'redis', ok: true, circuit: 'closed' } })
    expect(await scrape('loads_total', {})).toBe(3)
    metrics.uninstrument()
  })
})
