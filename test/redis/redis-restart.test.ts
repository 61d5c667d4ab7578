import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../helpers/redis-servers.js'
import { buildPackages, type LoaderCall, type Outcome, startWorkers, type Worker } from './fixtures/workers.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('Redis stopped mid-run and restarted (own server on 127.0.0.1:7020)', () => {
  let server: RedisServer
  let workers: Worker[] = []
  beforeAll(async () => {
    buildPackages()
    server = await startRedisServer(7020)
  }, 120_000)
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.exit()))
    await server.stop()
  })

  it('no get is rejected and every value is right before, during and after the outage', async () => {
    const calls: LoaderCall[] = []
    workers = await startWorkers(
      2,
      {
        url: server.url,
        prefix: 'tc-redis-mp:',
        name: `restart-${randomUUID()}`,
        ttl: 300,
        staleTtl: 1_000,
        lockLease: 2_000,
        lockWait: 2_000,
        lruSize: 0, // every get goes to Redis: the outage cannot hide behind L1
        loaderMs: 20,
      },
      calls,
    )
    const keys = ['a', 'b', 'c', 'd', 'e']
    const running = Promise.all(workers.map((worker) => worker.run(keys, 5, 5_000)))
    const phase = (name: string) => {
      for (const worker of workers) worker.phase(name)
    }
    phase('before')
    await sleep(1_200)
    phase('down')
    await server.kill('SIGKILL')
    await sleep(1_500)
    await server.restart()
    phase('after')
    const results = await running

    const outcomes = results.flatMap((result) => result.outcomes)
    const by = (name: string) => outcomes.filter((o: Outcome) => o.phase === name)
    for (const name of ['before', 'down', 'after']) {
      expect(by(name).length).toBeGreaterThan(50)
      expect(by(name).filter((o) => !o.ok)).toEqual([])
      expect(by(name).filter((o) => !o.correct)).toEqual([])
    }
    // Before: served from Redis. During: from the loader, without waiting on Redis.
    expect(by('before').filter((o) => o.hitLevel === 2).length).toBeGreaterThan(0)
    expect(by('down').filter((o) => o.hitLevel === 2)).toEqual([])
    expect(Math.max(...by('down').map((o) => o.ms))).toBeLessThan(1_000)
    // After: the store came back by itself and serves hits again.
    expect(by('after').filter((o) => o.hitLevel === 2).length).toBeGreaterThan(0)
    // The workers' caches saw the outage as store errors, not as failed gets.
    expect(results.some((result) => result.storeErrors > 0)).toBe(true)
    expect(calls.filter((call) => call.phase === 'down').length).toBeGreaterThan(0)
  })
})
