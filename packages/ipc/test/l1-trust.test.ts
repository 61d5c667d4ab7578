import { execFileSync } from 'node:child_process'
import { MemoryStore, TierCache } from '@tiercache/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeMessage, WIRE_VERSION } from '../src/message.js'
import { RedisPubSubIpc } from '../src/redis-pubsub.js'
import { type Redis, type RedisServer, startRedisServer } from './redis-server.js'

// L1 trust of caches on a real Redis bus, in the cases the read-path bound must still cover.

let server: RedisServer
const clients: Redis[] = []

beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())))
  await server.stop()
})

function client(): Redis {
  const redis = server.client()
  clients.push(redis)
  return redis
}

async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** This process stops running JavaScript for `ms`, as when paused (SIGSTOP, a long GC): its sockets are not read. */
function stall(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy
  }
}

describe('L1 trust on a Redis bus', () => {
  it('a cache created on a namespace already live on its bus bounds its L1 trust too (not only from the next heartbeat)', async () => {
    // Heartbeats far apart: the only confirmation in this test is the one that made the namespace live.
    const bus = new RedisPubSubIpc({
      publisher: client(),
      subscriber: client(),
      channel: 'late-sibling',
      maxStalenessMs: 300,
      heartbeatMs: 10_000,
    })
    const store = new MemoryStore()
    const first = new TierCache<string>({ name: 'users', store, ipc: bus })
    await waitFor(() => bus.isLive('users'))
    const second = new TierCache<string>({ name: 'users', store, ipc: bus })
    try {
      await second.set('k', 'v1') // in second's L1
      // Another node overwrites k: its store write, then its invalidation, which waits in this
      // process's socket while the process is stalled (execFileSync blocks the event loop too).
      await new TierCache<string>({ name: 'users', store }).set('k', 'v2')
      const message = encodeMessage({
        v: WIRE_VERSION,
        node: 'other-node',
        ns: 'users',
        seq: 1,
        ops: [{ kind: 'set', keys: ['k'] }],
      })
      execFileSync('redis-cli', ['-p', String(server.port), '-x', 'PUBLISH', bus.channelOf('users')], {
        input: Buffer.from(message),
      })
      stall(400) // longer than maxStalenessMs
      // Read before the socket is: neither cache may answer from an L1 the bus has not vouched for in 300 ms.
      expect(first.getFresh('k')).toBeUndefined()
      expect(second.getFresh('k')).toBeUndefined()
      expect(await second.get('k')).toBe('v2')
    } finally {
      first.close()
      second.close()
      await bus.close()
    }
  })

  it('a cache whose bus was closed no longer trusts its L1 past maxStalenessMs (heartbeats off: nothing else bounds it)', async () => {
    const bus = new RedisPubSubIpc({
      publisher: client(),
      subscriber: client(),
      channel: 'closed-bus',
      maxStalenessMs: 200,
      heartbeatMs: 0,
    })
    const store = new MemoryStore()
    const cache = new TierCache<string>({ name: 'users', store, ipc: bus })
    try {
      await waitFor(() => bus.isLive('users'))
      await cache.set('k', 'v1')
      await bus.close() // the cache goes on; it hears no other node from now on
      await new TierCache<string>({ name: 'users', store }).set('k', 'v2') // another node's write
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(cache.getFresh('k')).toBeUndefined()
      expect(await cache.get('k')).toBe('v2')
    } finally {
      cache.close()
    }
  })

  it('caches of one name on a closed bus still tell each other of their own changes', async () => {
    const bus = new RedisPubSubIpc({
      publisher: client(),
      subscriber: client(),
      channel: 'closed-siblings',
      maxStalenessMs: 2000,
      heartbeatMs: 0,
    })
    const store = new MemoryStore()
    const a = new TierCache<string>({ name: 'users', store, ipc: bus })
    const b = new TierCache<string>({ name: 'users', store, ipc: bus })
    try {
      await waitFor(() => bus.isLive('users'))
      await a.set('k', 'v1')
      expect(await b.get('k')).toBe('v1') // in b's L1
      await bus.close()
      await a.set('k', 'v2') // this process's own write, through a cache of the same name
      expect(await b.get('k')).toBe('v2') // not b's copy for up to maxStalenessMs more
      await b.delete('k')
      expect(a.peek('k')).toBeUndefined()
    } finally {
      a.close()
      b.close()
    }
  })
})
