import { StoreCallError } from '@tiercache/core'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisClusterHandle, redisCli, startRedisCluster } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

const write = (text: string) => ({ data: Buffer.from(text), freshMs: 60_000, keepMs: 60_000 })

async function rejection(call: Promise<unknown>): Promise<unknown> {
  try {
    await call
  } catch (error) {
    return error
  }
  throw new Error('expected the call to reject')
}

// On a Cluster a setMany is one script per slot, each node's in one pipeline, all nodes at
// once. A node that refused its part (OOM at maxmemory, noeviction) failed the whole call
// `not-applied` while the other nodes had written theirs.
describe('a Cluster setMany that one node refuses (own 3-master cluster on 127.0.0.1:7120-7122)', () => {
  let cluster: RedisClusterHandle
  let store: RedisStore

  beforeAll(async () => {
    cluster = await startRedisCluster([7120, 7121, 7122])
    store = new RedisStore({ client: new Cluster([...cluster.nodes]), prefix: 'part' })
    store.on('error', () => {})
  })
  afterAll(async () => {
    await store.close()
    store.client.disconnect()
    await cluster.stop()
  })

  it('is reported as may have landed when other nodes wrote their part', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`)
    await store.setMany(
      'ns',
      keys.map((key) => [key, write('old')] as const),
    )
    const full = cluster.servers[2]!.port
    await redisCli(full, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
    await redisCli(full, 'CONFIG', 'SET', 'maxmemory', '1')
    let error: unknown
    try {
      error = await rejection(
        store.setMany(
          'ns',
          keys.map((key) => [key, write('new')] as const),
        ),
      )
    } finally {
      await redisCli(full, 'CONFIG', 'SET', 'maxmemory', '0')
    }
    expect(error).toBeInstanceOf(StoreCallError)
    expect(String((error as StoreCallError).cause)).toMatch(/OOM/)
    const records = await store.getMany('ns', keys)
    const written = records.filter((record) => Buffer.from(record!.data!).toString() === 'new').length
    // Some keys (those of the other nodes) were written, some not...
    expect(written).toBeGreaterThan(0)
    expect(written).toBeLessThan(keys.length)
    // ...so the caller must not be told nothing was.
    expect(error).toMatchObject({ kind: 'server', outcome: 'unknown' })
  })
})
