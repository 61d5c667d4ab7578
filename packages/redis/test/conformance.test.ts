import type { SharedStore } from '@tiercache/core'
import { storeConformanceSuite } from '@tiercache/core/testing'
import { Cluster, Redis } from 'ioredis'
import { type RedisClusterHandle, startRedisCluster } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

// The shared server on 6379: every test of the suite uses namespaces of its own, under our prefix.
const disconnect = async (store: SharedStore) => {
  await store.close?.()
  ;(store as RedisStore).client.disconnect()
}
const standalone = () =>
  new RedisStore({ client: new Redis({ host: '127.0.0.1', port: 6379 }), prefix: 'tc-redis-test:', fenceMs: 1_000 })
storeConformanceSuite('RedisStore on standalone Redis (127.0.0.1:6379)', {
  create: standalone,
  createPeer: standalone,
  fenceMs: 1_000,
  destroy: disconnect,
  destroyPeer: disconnect,
})

let cluster: RedisClusterHandle | undefined
storeConformanceSuite('RedisStore on a 3-master Redis Cluster (127.0.0.1:7001-7003)', {
  create: async () => {
    cluster = await startRedisCluster([7001, 7002, 7003])
    return new RedisStore({ client: new Cluster([...cluster.nodes]), prefix: 'tc-redis-test:', fenceMs: 1_000 })
  },
  createPeer: () =>
    new RedisStore({ client: new Cluster([...cluster!.nodes]), prefix: 'tc-redis-test:', fenceMs: 1_000 }),
  fenceMs: 1_000,
  destroyPeer: disconnect,
  destroy: async (store) => {
    await disconnect(store)
    await cluster?.stop()
  },
})
