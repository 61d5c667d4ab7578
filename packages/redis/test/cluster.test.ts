import { randomUUID } from 'node:crypto'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type RedisClusterHandle, startRedisCluster } from '../../../test/helpers/redis-servers.js'
import { RedisStore, type RedisStoreOptions } from '../src/index.js'

const bytes = (...values: number[]) => Uint8Array.from(values)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const ns = () => `cluster-${randomUUID()}`
const write = (value: number) => ({ data: bytes(value), freshMs: 30_000, keepMs: 30_000 })

describe('RedisStore on a 3-master Redis Cluster (127.0.0.1:7004-7006)', () => {
  let cluster: RedisClusterHandle
  const stores: RedisStore[] = []
  const open = (options: Partial<RedisStoreOptions> = {}) => {
    const store = new RedisStore({ client: new Cluster([...cluster.nodes]), ...options })
    stores.push(store)
    return store
  }

  beforeAll(async () => {
    cluster = await startRedisCluster([7004, 7005, 7006])
  })
  afterAll(async () => {
    for (const store of stores) {
      await store.close()
      store.client.disconnect()
    }
    await cluster.stop()
  })

  it('getMany and setMany over all nodes: one pipeline per node', async () => {
    const store = open()
    const n = ns()
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`)
    await store.get(n, 'warm-up') // learn the slot table
    const pipelines = vi.spyOn(store.client, 'pipeline')
    await store.setMany(
      n,
      keys.map((key, i) => [key, write(i & 0xff)] as const),
    )
    const records = await store.getMany(n, keys)
    expect(records.map((record) => record?.data?.[0])).toEqual(keys.map((_, i) => i & 0xff))
    // 300 keys fall in ~300 slots on 3 nodes: 3 pipelines for the write, 3 for the read.
    expect(pipelines).toHaveBeenCalledTimes(6)
    pipelines.mockRestore()
  })

  it('a purge by one process is seen by the next read of another (parallel generation check)', async () => {
    const a = open()
    const b = open()
    const n = ns()
    await a.set(n, 'k', write(1))
    expect(await b.get(n, 'k')).toBeDefined()
    await a.purge(n)
    expect(await b.get(n, 'k')).toBeUndefined()
    await b.set(n, 'k', write(2))
    expect(Array.from((await a.get(n, 'k'))!.data!)).toEqual([2])
  })

  // Found by the faults suite (maxmemory + allkeys-lru): an evicted generation key read as '0' again.
  it('an evicted generation key does not bring back records a purge made unreachable', async () => {
    const a = open()
    const b = open()
    const n = ns()
    await a.set(n, 'k', write(1))
    await a.purge(n)
    await a.client.del(`tiercache:{${n}}:gen`)
    expect(await b.get(n, 'k')).toBeUndefined()
    expect(await a.get(n, 'k')).toBeUndefined()
  })

  it('with generationTrustMs, a purge is seen within that bound', async () => {
    const a = open()
    const b = open({ generationTrustMs: 300 })
    const n = ns()
    await a.set(n, 'k', write(1))
    expect(await b.get(n, 'k')).toBeDefined()
    await a.purge(n)
    const purgedAt = performance.now()
    while ((await b.get(n, 'k')) !== undefined) await sleep(10)
    expect(performance.now() - purgedAt).toBeLessThan(300 + 150)
  })

  it('wakes a waiter on another cluster connection: the release PUBLISH crosses nodes', async () => {
    const holder = open()
    const waiter = open({ minRecheckMs: 5_000, maxRecheckMs: 5_000 })
    const n = ns()
    // Keys on several slots, so the release runs on different nodes than the subscriber's.
    for (const key of ['a', 'b', 'c', 'd', 'e']) {
      const token = await holder.lock.acquire(n, key, 10_000)
      const started = performance.now()
      const waiting = waiter.lock.waitForRelease(n, key, 4_000)
      await sleep(100)
      await holder.lock.release(n, key, token!)
      expect(await waiting).toBe(true)
      expect(performance.now() - started).toBeLessThan(1_000)
    }
  })
})
