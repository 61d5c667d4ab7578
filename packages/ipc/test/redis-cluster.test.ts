import { recorder } from '@tiercache/ipc/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisPubSubIpc } from '../src/redis-pubsub.js'
import { type Cluster, Redis, type RedisCluster, startRedisCluster } from './redis-server.js'

let cluster: RedisCluster
const clients: (Cluster | Redis)[] = []
const NAMESPACES = ['users', 'posts', 'carts', 'orders', 'sessions', 'prices']

beforeAll(async () => {
  cluster = await startRedisCluster()
})
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())))
  await cluster.stop()
})

function client(options?: Parameters<RedisCluster['client']>[0]): Cluster {
  const redis = cluster.client(options)
  clients.push(redis)
  return redis
}

function node(channel: string, sharded: boolean, options: { maxStalenessMs?: number; heartbeatMs?: number } = {}) {
  return new RedisPubSubIpc({
    publisher: client(),
    subscriber: client({ shardedSubscribers: sharded }),
    channel,
    ...options,
  })
}

/** Subscribers of `channel` on every master, counted as sharded (SSUBSCRIBE) or plain (SUBSCRIBE). */
async function subscribers(channel: string): Promise<{ sharded: number; plain: number; masters: number }> {
  let sharded = 0
  let plain = 0
  let masters = 0
  for (const port of cluster.ports) {
    const direct = new Redis({ host: '127.0.0.1', port })
    try {
      const [, s] = (await direct.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number]
      const [, p] = (await direct.call('PUBSUB', 'NUMSUB', channel)) as [string, number]
      sharded += Number(s)
      plain += Number(p)
      if (Number(s) > 0) masters++
    } finally {
      direct.disconnect()
    }
  }
  return { sharded, plain, masters }
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('RedisPubSubIpc on a real 3-master Redis Cluster', () => {
  it('uses sharded pub/sub when the subscriber is a sharded-subscriber Cluster, spread over the shards', async () => {
    const a = node('sharded', true)
    const b = node('sharded', true)
    expect(b.sharded).toBe(true)
    const handlers = NAMESPACES.map((namespace) => {
      const handler = recorder()
      b.subscribe(namespace, handler)
      return handler
    })
    await waitFor(() => NAMESPACES.every((namespace) => b.isLive(namespace)))
    for (const namespace of NAMESPACES) a.publish({ kind: 'set', namespace, keys: [`${namespace}:1`] })
    await Promise.all(handlers.map((h, i) => h.until(() => h.keys().includes(`${NAMESPACES[i]}:1`))))

    // Each channel is SSUBSCRIBEd on exactly the master owning its slot, and
    // the six namespaces do not all live on one shard.
    const owners = new Set<number>()
    for (const namespace of NAMESPACES) {
      const counts = await subscribers(b.channelOf(namespace))
      expect(counts).toMatchObject({ plain: 0, masters: 1 })
      expect(counts.sharded).toBeGreaterThanOrEqual(1)
      owners.add(await slotOwner(b.channelOf(namespace)))
    }
    expect(owners.size).toBeGreaterThan(1)
    await Promise.all([a.close(), b.close()])
  })

  it('falls back to plain pub/sub on a cluster client without sharded subscribers', async () => {
    const a = node('plain', false)
    const b = node('plain', false)
    expect(b.sharded).toBe(false)
    const handler = recorder()
    b.subscribe('users', handler)
    await waitFor(() => b.isLive('users'))
    a.publish({ kind: 'purge', namespace: 'users', keys: [] })
    await handler.until(() => handler.count('invalidateAll') === 1)
    expect((await subscribers(b.channelOf('users'))).plain).toBe(1)
    await Promise.all([a.close(), b.close()])
  })

  it('recovers sharded subscriptions after their connections are killed', async () => {
    const a = node('sharded-kill', true, { maxStalenessMs: 600, heartbeatMs: 200 })
    const b = node('sharded-kill', true, { maxStalenessMs: 600, heartbeatMs: 200 })
    const handler = recorder()
    b.subscribe('users', handler)
    await waitFor(() => b.isLive('users'))
    for (const port of cluster.ports) {
      const direct = new Redis({ host: '127.0.0.1', port })
      await direct.client('KILL', 'TYPE', 'pubsub')
      direct.disconnect()
    }
    await handler.until((calls) => calls.some((call) => call.method === 'disconnected'), 10_000)
    expect(handler.calls.find((call) => call.method === 'disconnected')).toEqual({
      method: 'disconnected',
      maxStalenessMs: 600,
    })
    await waitFor(() => b.isLive('users'), 15_000)
    a.publish({ kind: 'set', namespace: 'users', keys: ['after'] })
    await handler.until(() => handler.keys().includes('after'), 10_000)
    await Promise.all([a.close(), b.close()])
  })
})

async function slotOwner(channel: string): Promise<number> {
  const direct = new Redis({ host: '127.0.0.1', port: cluster.ports[0]! })
  try {
    const slot = Number(await direct.call('CLUSTER', 'KEYSLOT', channel))
    const shards = (await direct.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]
    const owner = shards.find(([from, to]) => slot >= from && slot <= to)
    return owner![2][1]
  } finally {
    direct.disconnect()
  }
}
