import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisClusterHandle, startRedisCluster } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

const write = { data: Uint8Array.of(1), freshMs: 60_000, keepMs: 60_000 }

// To fail its unanswered writes when a node connection closes (9ad0c61), a store on a Cluster
// listens to each node ('end') and to each node's socket ('close'). close() took only its
// 'connect' listeners off: every store made and closed on a long-lived Cluster client left one
// listener per node and per socket, each holding the whole store (11 stores: Node's
// MaxListenersExceededWarning on every node, and memory that grows with every store).
describe('a store closed on a Cluster client that stays open (own cluster on 127.0.0.1:7155-7157)', () => {
  let cluster: RedisClusterHandle
  let client: Cluster

  beforeAll(async () => {
    cluster = await startRedisCluster([7155, 7156, 7157])
    client = new Cluster([...cluster.nodes])
    await new Promise((resolve) => client.once('ready', resolve))
  })
  afterAll(async () => {
    client?.disconnect()
    await cluster?.stop()
  })

  const counts = () =>
    client
      .nodes('all')
      .map((node) => [node.listenerCount('end'), node.listenerCount('connect'), node.stream.listenerCount('close')])

  it('leaves no listener on the nodes or their sockets', async () => {
    // Every node connected, and watched once (a socket keeps one listener that drops unanswered
    // writes at its close, whatever the stores: see dropOnClose), before counting.
    const first = new RedisStore({ client, prefix: 'leak' })
    await first.setMany(
      'ns',
      Array.from({ length: 30 }, (_, j) => [`k${j}`, write] as const),
    )
    await first.close()
    const before = counts()
    for (let i = 0; i < 3; i++) {
      const store = new RedisStore({ client, prefix: 'leak' })
      await store.setMany(
        'ns',
        Array.from({ length: 30 }, (_, j) => [`k${j}`, write] as const),
      )
      await store.close()
    }
    expect(counts()).toEqual(before)
  })
})
