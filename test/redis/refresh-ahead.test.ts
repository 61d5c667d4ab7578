import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildPackages, type LoaderCall, type Outcome, startWorkers, type WorkerConfig } from './fixtures/workers.js'

// The fleet is driven in rounds placed inside windows hundreds of ms wide, not by free-running
// traffic counted over a period: each round's expectation is exact, so the test does not depend
// on how fast a loaded machine happens to be.
const TTL = 2_000
const AHEAD = 0.5
/** When each round fires, after the parent heard of the last loader call: past the refresh-ahead
 * point (1 000 ms after the write, which lands ~20 ms after the call) with 300 ms to spare, and
 * 700 ms before the value would expire. */
const ROUND_AT = 1_300
const ROUNDS = 3
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

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

/** Waits (at most `timeoutMs`) until `calls` holds `count` loader calls; then, to catch extras, `quietMs` more. */
async function untilCalls(calls: LoaderCall[], count: number, timeoutMs = 3_000, quietMs = 300): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (calls.length < count && performance.now() < deadline) await sleep(10)
  await sleep(quietMs)
  expect(calls).toHaveLength(count)
}

const summary = (outcomes: Outcome[]) =>
  outcomes.map(({ ok, hitLevel, stale, error }) => ({ ok, hitLevel, stale, error }))

describe('refresh-ahead across a fleet: 3 processes reading one hot key on the shared Redis', () => {
  beforeAll(() => buildPackages(), 120_000)
  afterAll(() => {})

  it('each round of reads past the refresh-ahead point makes exactly one loader call for the whole fleet, and no read waits for it', async () => {
    const name = `ahead-${randomUUID()}`
    const calls: LoaderCall[] = []
    const workers = await startWorkers(3, config(name, AHEAD), calls)
    try {
      // The first load: every process asks at once, one loads (the lock), the others read its value.
      const first = (await Promise.all(workers.map((worker) => worker.run(['hot'], 5)))).flatMap((r) => r.outcomes)
      expect(first.every((o) => o.ok && !o.stale)).toBe(true)
      await untilCalls(calls, 1)
      for (let round = 1; round <= ROUNDS; round++) {
        await sleep(calls.at(-1)!.at + ROUND_AT - performance.now())
        const outcomes = (await Promise.all(workers.map((worker) => worker.run(['hot'], 5)))).flatMap((r) => r.outcomes)
        // Served at once, fresh, from L1 or (a process whose L1 copy another's refresh replaced) Redis.
        expect(summary(outcomes).filter((o) => !o.ok || o.stale || o.hitLevel > 2)).toEqual([])
        // One refresh for the fleet: 15 reads in 3 processes that each found the key due.
        await untilCalls(calls, 1 + round)
      }
      console.log(
        `refresh-ahead fleet: ${calls.length} loader calls for ${ROUNDS} rounds, pids ${calls.map((c) => c.pid)}`,
      )
    } finally {
      await Promise.all(workers.map((worker) => worker.exit()))
    }
  })

  it('without refreshAhead the same rounds make no call until the value expires, and then readers wait for the load', async () => {
    const name = `no-ahead-${randomUUID()}`
    const calls: LoaderCall[] = []
    const workers = await startWorkers(3, config(name, undefined), calls)
    try {
      await Promise.all(workers.map((worker) => worker.run(['hot'], 5)))
      await untilCalls(calls, 1)
      const loadedAt = calls[0]!.at
      await sleep(loadedAt + ROUND_AT - performance.now())
      const due = (await Promise.all(workers.map((worker) => worker.run(['hot'], 5)))).flatMap((r) => r.outcomes)
      expect(due.every((o) => o.ok && o.hitLevel === 1)).toBe(true)
      await untilCalls(calls, 1)
      // Past the expiry (2 000 ms after the write, with 300 ms to spare): the readers wait for one load.
      await sleep(loadedAt + TTL + 300 - performance.now())
      const expired = (await Promise.all(workers.map((worker) => worker.run(['hot'], 5)))).flatMap((r) => r.outcomes)
      expect(expired.every((o) => o.ok && !o.stale)).toBe(true)
      expect(expired.filter((o) => o.hitLevel === 3).length).toBeGreaterThanOrEqual(5)
      await untilCalls(calls, 2)
    } finally {
      await Promise.all(workers.map((worker) => worker.exit()))
    }
  })
})
