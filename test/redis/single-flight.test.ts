import { randomUUID } from 'node:crypto'
import { TierCache } from '@tiercache/core'
import { RedisStore } from '@tiercache/redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildPackages, type LoaderCall, startWorkers, type WorkerConfig } from './fixtures/workers.js'

const PREFIX = 'tc-redis-mp:'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const config = (name: string, loaderMs: number): WorkerConfig => ({
  url: 'redis://127.0.0.1:6379',
  prefix: PREFIX,
  name,
  ttl: 10_000,
  staleTtl: 30_000,
  lockLease: 5_000,
  lockWait: 5_000,
  lruSize: 1_000,
  loaderMs,
})

describe('fleet-wide single flight: 4 processes × 250 concurrent gets on the shared Redis', () => {
  let store: RedisStore
  beforeAll(() => {
    buildPackages()
    store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: PREFIX })
  }, 120_000)
  afterAll(() => store.close())

  it('a missing key: exactly one loader call in the whole fleet, everyone gets its value', async () => {
    const name = `sf-${randomUUID()}`
    const calls: LoaderCall[] = []
    const workers = await startWorkers(4, config(name, 100), calls)
    try {
      const results = await Promise.all(workers.map((worker) => worker.run(['missing'], 250)))
      const outcomes = results.flatMap((result) => result.outcomes)
      expect(outcomes).toHaveLength(1_000)
      expect(outcomes.filter((o) => !o.ok)).toEqual([])
      expect(new Set(outcomes.map((o) => o.value))).toEqual(new Set(['value-of-missing']))
      expect(calls).toHaveLength(1)
      // The loader's process answers from the load, the three others from Redis after the lock's release.
      expect(outcomes.filter((o) => o.hitLevel === 3)).toHaveLength(250)
      expect(outcomes.filter((o) => o.hitLevel === 2)).toHaveLength(750)
      expect(results.every((result) => result.storeErrors === 0)).toBe(true)
    } finally {
      await Promise.all(workers.map((worker) => worker.exit()))
    }
  })

  it('a key in its stale window: exactly one refresh in the fleet, every caller answered from stale', async () => {
    const name = `stale-${randomUUID()}`
    const writer = new TierCache<string>({ name, store, lruSize: 0 })
    await writer.set('k', 'old-k', { ttl: 300, staleTtl: 30_000 })
    const calls: LoaderCall[] = []
    const workers = await startWorkers(4, config(name, 300), calls)
    try {
      await sleep(400) // past its ttl (starting the workers took longer already, but be sure)
      const results = await Promise.all(workers.map((worker) => worker.run(['k'], 250)))
      const outcomes = results.flatMap((result) => result.outcomes)
      expect(outcomes).toHaveLength(1_000)
      expect(outcomes.filter((o) => !o.ok)).toEqual([])
      expect(outcomes.every((o) => o.stale && o.hitLevel === 4 && o.value === 'old-k')).toBe(true)
      // Served at once, not after the 300 ms refresh.
      expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(300)
      await sleep(700)
      expect(calls).toHaveLength(1)
      // The refreshed value is in Redis, fresh, for everyone.
      const reader = new TierCache<string>({ name, store, lruSize: 0 })
      expect(await reader.getWithInfo('k')).toMatchObject({ value: 'value-of-k', hitLevel: 2, stale: false })
    } finally {
      await Promise.all(workers.map((worker) => worker.exit()))
    }
  })
})
