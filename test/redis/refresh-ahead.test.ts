import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildPackages, type LoaderCall, startWorkers, type WorkerConfig } from './fixtures/workers.js'

const TTL = 500
const RUN_MS = 4_000

const config = (name: string, refreshAhead: number | undefined): WorkerConfig => ({
  url: 'redis://127.0.0.1:6379',
  prefix: 'tc-redis-ahead:',
  name,
  ttl: TTL,
  staleTtl: 0,
  lockLease: 5_000,
  lockWait: 5_000,
  lruSize: 1_000,
  loaderMs: 20,
  ...(refreshAhead === undefined ? {} : { refreshAhead }),
})

describe('refresh-ahead across a fleet: 3 processes reading one hot key for 8 TTLs on the shared Redis', () => {
  beforeAll(() => buildPackages(), 120_000)
  afterAll(() => {})

  it('the key never misses after the first load, and the fleet loads it about once per TTL', async () => {
    const name = `ahead-${randomUUID()}`
    const calls: LoaderCall[] = []
    const workers = await startWorkers(3, config(name, 0.6), calls)
    try {
      const results = await Promise.all(workers.map((worker) => worker.run(['hot'], 5, RUN_MS)))
      const outcomes = results.flatMap((result) => result.outcomes)
      const levels = [1, 2, 3].map((level) => outcomes.filter((o) => o.hitLevel === level).length)
      console.log(
        `refresh-ahead fleet: ${outcomes.length} gets (L1/L2/loader: ${levels.join('/')}), ${calls.length} loader calls in ${RUN_MS} ms, ttl ${TTL} ms`,
      )
      expect(outcomes.filter((o) => !o.ok)).toEqual([])
      expect(outcomes.filter((o) => o.stale)).toEqual([])
      // Only the very first load made callers wait (the 5 concurrent gets of the process that loaded).
      expect(outcomes.filter((o) => o.hitLevel === 3).length).toBeLessThanOrEqual(5)
      // One load per 60-100 % of a TTL for the whole fleet, not one per process.
      expect(calls.length).toBeGreaterThanOrEqual(Math.floor(RUN_MS / TTL) - 1)
      expect(calls.length).toBeLessThanOrEqual(Math.ceil(RUN_MS / (0.6 * TTL)) + 2)
    } finally {
      await Promise.all(workers.map((worker) => worker.exit()))
    }
  })

  it('without refreshAhead the same traffic waits for a load every TTL', async () => {
    const name = `no-ahead-${randomUUID()}`
    const calls: LoaderCall[] = []
    const workers = await startWorkers(3, config(name, undefined), calls)
    try {
      const results = await Promise.all(workers.map((worker) => worker.run(['hot'], 5, RUN_MS)))
      const outcomes = results.flatMap((result) => result.outcomes)
      expect(outcomes.filter((o) => o.hitLevel === 3).length).toBeGreaterThan(5 * (RUN_MS / TTL - 2))
    } finally {
      await Promise.all(workers.map((worker) => worker.exit()))
    }
  })
})
