import { execFileSync } from 'node:child_process'
import { recorder } from '@tiercache/ipc/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeMessage, WIRE_VERSION } from '../src/message.js'
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

  // ioredis's Cluster replaces a lost subscriber connection by itself, at once, and says nothing of
  // it (no 'close'): what was published meanwhile was lost unseen. A message the store published
  // with its write carries no number, so no later message revealed it either.
  for (const sharded of [false, true]) {
    it(`drops the L1 after its ${sharded ? 'sharded' : 'plain'} subscriber connection was replaced, having missed a store-published message`, async () => {
      const name = `replaced-${sharded}`
      const b = new RedisPubSubIpc({
        publisher: client(),
        subscriber: client({ shardedSubscribers: sharded, redisOptions: { connectionName: name } }),
        channel: name,
        maxStalenessMs: 600,
        heartbeatMs: 200,
      })
      const handler = recorder()
      b.subscribe('users', handler)
      await waitFor(() => b.isLive('users'))
      const channel = b.channelOf('users')
      const message = Buffer.from(
        encodeMessage({
          v: WIRE_VERSION,
          node: 'writer',
          ns: 'users',
          seq: 0,
          ops: [{ kind: 'set', keys: ['k'] }],
          store: true,
        }),
      )
      const before = handler.calls.length
      let killed = 0
      for (const port of cluster.ports) {
        const direct = new Redis({ host: '127.0.0.1', port })
        try {
          // b's own subscriber connection on this master, if any (other tests' stay open).
          const line = ((await direct.client('LIST', 'TYPE', 'pubsub')) as string)
            .split('\n')
            .find((entry) => entry.includes(`:${name} `))
          if (line === undefined) continue
          const id = /\bid=(\d+)/.exec(line)![1]!
          // While this process is held (execFileSync blocks its event loop, so ioredis cannot replace
          // the connection yet): b's connection killed, then the message published, on every master
          // by the time b runs again (plain pub/sub crosses the cluster bus).
          const cli = (args: string[], input?: Buffer) =>
            execFileSync('redis-cli', ['-p', String(port), ...args], { input })
              .toString()
              .trim()
          killed += Number(cli(['CLIENT', 'KILL', 'ID', id]))
          cli(['-x', sharded ? 'SPUBLISH' : 'PUBLISH', channel], message)
          stall(100)
        } finally {
          direct.disconnect()
        }
      }
      expect(killed).toBeGreaterThanOrEqual(1)
      // Within maxStalenessMs (and slack): k evicted, or the whole L1 dropped.
      await handler.until(
        (calls) => calls.slice(before).some((call) => call.method === 'invalidateAll' || call.method === 'reconnected'),
        2000,
      )
      expect(handler.keys()).not.toContain('k') // it was lost indeed
      await waitFor(() => b.isLive('users'))
      await b.close()
    })
  }
  // Without heartbeats nothing but the bus itself brings a Cluster's namespaces back: the Cluster
  // replaces a lost subscriber connection by itself and never says 'ready' again.
  for (const sharded of [false, true]) {
    it(`a bus without heartbeats is live again after its ${sharded ? 'sharded' : 'plain'} subscriber connection was replaced`, async () => {
      const name = `no-heartbeat-${sharded}`
      const b = new RedisPubSubIpc({
        publisher: client(),
        subscriber: client({ shardedSubscribers: sharded, redisOptions: { connectionName: name } }),
        channel: name,
        maxStalenessMs: 300,
        heartbeatMs: 0,
      })
      const handler = recorder()
      b.subscribe('users', handler)
      await waitFor(() => b.isLive('users'))
      const before = handler.calls.length
      for (const port of cluster.ports) {
        const direct = new Redis({ host: '127.0.0.1', port })
        try {
          await direct.client('KILL', 'TYPE', 'pubsub', 'SKIPME', 'yes')
        } catch {
          // no such client here
        } finally {
          direct.disconnect()
        }
      }
      await handler.until((calls) => calls.slice(before).some((call) => call.method === 'disconnected'), 3000)
      // Live again (and reconnected, so L1 is dropped for what was missed): before, down for good.
      await handler.until((calls) => calls.slice(before).some((call) => call.method === 'reconnected'), 3000)
      expect(b.isLive('users')).toBe(true)
      await b.close()
    })
  }
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

/** This process runs no JavaScript for `ms` (its sockets are not read meanwhile). */
function stall(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy
  }
}
