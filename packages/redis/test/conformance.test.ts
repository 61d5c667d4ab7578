import { storeConformanceSuite } from '@tiercache/core/testing'
import { Cluster, Redis } from 'ioredis'
import { type RedisClusterHandle, startRedisCluster } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

// The shared server on 6379: every test of the suite uses namespaces of its own, under our prefix.
storeConformanceSuite('RedisStore on standalone Redis (127.0.0.1:6379)', {
  create: () => new RedisStore({ client: new Redis({ host: '127.0.0.1', port: 6379 }), prefix: 'tc-redis-test:' }),
  destroy: async (store) => {
    await store.close?.()
    ;(store as RedisStore).client.disconnect()
  },
})

let cluster: RedisClusterHandle | undefined
storeConformanceSuite('RedisStore on a 3-master Redis Cluster (127.0.0.1:7001-7003)', {
  create: async () => {
    cluster = await startRedisCluster([7001, 7002, 7003])
    return new RedisStore({ client: new Cluster([...cluster.nodes]), prefix: 'tc-redis-test:' })
  },
  destroy: async (store) => {
    await store.close?.()
    ;(store as RedisStore).client.disconnect()
    await cluster?.stop()
  },
})
