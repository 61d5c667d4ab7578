import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisClusterHandle, redisCli, startRedisCluster } from '../../../test/helpers/redis-servers.js'
import { type ReplyCutProxy, startReplyCutProxy } from '../../../test/helpers/reply-cut-proxy.js'
import { RedisStore } from '../src/index.js'

const write = (text: string) => ({ data: Buffer.from(text), freshMs: 60_000, keepMs: 60_000 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const text = async (store: RedisStore, key: string) => {
  const record = await store.get('ns', key)
  return record?.data === undefined ? undefined : Buffer.from(record.data).toString()
}

// The Cluster sends a command that failed with "Connection is closed." again after
// retryDelayOnFailover (100 ms): a write whose reply was lost with its node connection had run,
// and ran a second time after the writes that came in between. The node of the key is reached
// through a proxy that loses one reply with its connection (natMap).
describe('a Cluster write whose reply is lost with its node connection (own cluster on 127.0.0.1:7123-7125)', () => {
  let cluster: RedisClusterHandle
  let proxy: ReplyCutProxy
  let direct: RedisStore
  let store: RedisStore

  beforeAll(async () => {
    cluster = await startRedisCluster([7123, 7124, 7125])
    direct = new RedisStore({ client: new Cluster([...cluster.nodes]), prefix: 'lost' })
    await direct.set('ns', 'k', write('v0'))
    const holders = await Promise.all(
      cluster.servers.map(async ({ port }) => ({ port, keys: await redisCli(port, 'KEYS', 'lost{ns:k}*') })),
    )
    const owner = holders.find(({ keys }) => keys.trim() !== '')!.port
    proxy = await startReplyCutProxy(owner)
    const client = new Cluster(
      cluster.nodes.filter(({ port }) => port !== owner),
      { natMap: { [`127.0.0.1:${owner}`]: { host: '127.0.0.1', port: proxy.port } } },
    )
    client.on('error', () => {})
    store = new RedisStore({ client, prefix: 'lost', commandTimeoutMs: 2_000 })
    store.on('error', () => {})
    expect(await text(store, 'k')).toBe('v0')
  })
  afterAll(async () => {
    for (const s of [store, direct]) {
      await s.close()
      s.client.disconnect()
    }
    await proxy.stop()
    await cluster.stop()
  })

  it('is not run again: a delete that resolved in between stands', async () => {
    const cut = proxy.cutNextReply(async () => {
      // The set has run: another process reads its value, then deletes the key.
      expect(await text(direct, 'k')).toBe('v1')
      await direct.delete('ns', 'k')
    })
    const set = store.set('ns', 'k', write('v1')).then(
      () => 'resolved',
      (error: { outcome?: string }) => error.outcome,
    )
    await cut
    // It ran, and its reply is lost: the caller is told so.
    expect(await set).toBe('unknown')
    await sleep(300)
    expect(await text(direct, 'k')).toBeUndefined()
  })
})
