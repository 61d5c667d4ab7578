import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildPackages, type LoaderCall, startWorkers, type Worker } from './fixtures/workers.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const LEASE = 1_000
const LOADER_MS = 1_500

describe('the lock holder is SIGKILLed while loading', () => {
  let workers: Worker[] = []
  beforeAll(() => buildPackages(), 120_000)
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.exit()))
  })

  it('another process takes over after the lease; every caller is answered, none hangs', async () => {
    const calls: LoaderCall[] = []
    workers = await startWorkers(
      4,
      {
        url: 'redis://127.0.0.1:6379',
        prefix: 'tc-redis-mp:',
        name: `killed-${randomUUID()}`,
        ttl: 10_000,
        staleTtl: 0,
        lockLease: LEASE,
        lockWait: 8_000,
        lruSize: 1_000,
        loaderMs: LOADER_MS,
      },
      calls,
    )
    const [holder, ...others] = workers as [Worker, ...Worker[]]
    const doomed = holder.run(['k'], 10)
    doomed.catch(() => {}) // it will be killed
    while (calls.length === 0) await sleep(5)
    const holderStarted = calls[0]!.at

    // The others arrive while the holder loads: they find the lock taken and wait.
    const started = performance.now()
    const waiting = Promise.all(others.map((worker) => worker.run(['k'], 50)))
    await sleep(100)
    holder.child.kill('SIGKILL')

    const outcomes = (await waiting).flatMap((result) => result.outcomes)
    const took = performance.now() - started
    expect(outcomes).toHaveLength(150)
    expect(outcomes.filter((o) => !o.ok)).toEqual([])
    expect(new Set(outcomes.map((o) => o.value))).toEqual(new Set(['value-of-k']))
    // The killed load, and exactly one takeover in the fleet.
    expect(calls).toHaveLength(2)
    expect(calls[1]!.pid).not.toBe(calls[0]!.pid)
    // The takeover waited for the lease to run out (no earlier), and came soon after it.
    const takeoverAfter = calls[1]!.at - holderStarted
    expect(takeoverAfter).toBeGreaterThanOrEqual(LEASE - 150)
    expect(takeoverAfter).toBeLessThan(LEASE + 1_000)
    // Nobody hung: lease + one load + slack.
    expect(took).toBeLessThan(LEASE + LOADER_MS + 2_000)
  })
})
