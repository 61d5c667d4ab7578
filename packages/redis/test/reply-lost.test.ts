import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { type ReplyCutProxy, startReplyCutProxy } from '../../../test/helpers/reply-cut-proxy.js'
import { RedisStore } from '../src/index.js'

const write = (text: string) => ({ data: Buffer.from(text), freshMs: 60_000, keepMs: 60_000 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const text = async (store: RedisStore, key: string) => {
  const record = await store.get('ns', key)
  return record?.data === undefined ? undefined : Buffer.from(record.data).toString()
}

// ioredis sends the commands that were unanswered when a connection closed again on the next
// one (autoResendUnfulfilledCommands, on by default). A write whose reply was lost with its
// connection had run: sent again within its deadline, it ran a second time, after whatever was
// written in between. The proxy loses the reply of one command with its connection.
describe('a write whose reply is lost with its connection (own server on 127.0.0.1:7113, through a proxy)', () => {
  let server: RedisServer
  let proxy: ReplyCutProxy
  let client: Redis
  let other: Redis
  let store: RedisStore
  let direct: RedisStore

  beforeAll(async () => {
    server = await startRedisServer(7113)
    proxy = await startReplyCutProxy(server.port)
    // The store's own client settings (maxRetriesPerRequest 1), reconnecting at once.
    client = new Redis({ port: proxy.port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 10 })
    client.on('error', () => {})
    other = new Redis({ port: server.port, host: '127.0.0.1' })
    store = new RedisStore({ client, prefix: 'lost', commandTimeoutMs: 2_000 })
    store.on('error', () => {})
    direct = new RedisStore({ client: other, prefix: 'lost' })
  })
  afterAll(async () => {
    await store.close()
    await direct.close()
    client.disconnect()
    other.disconnect()
    await proxy.stop()
    await server.stop()
  })

  it('is not run again after the reconnection: a delete that resolved in between stands', async () => {
    await store.set('ns', 'k', write('v0'))
    const cut = proxy.cutNextReply(async () => {
      // The set has run: another process reads its value, then deletes the key.
      expect(await text(direct, 'k')).toBe('v1')
      await direct.delete('ns', 'k')
    })
    const set = store.set('ns', 'k', write('v1'))
    await cut
    await set.catch(() => {})
    await sleep(300)
    expect(await text(direct, 'k')).toBeUndefined()
  })

  it('an acquire whose reply was lost does not leave the lock to nobody for its lease', async () => {
    const cut = proxy.cutNextReply()
    const acquired = store.lock.acquire('ns', 'lock', 30_000).catch(() => undefined)
    await cut
    expect(await acquired).toBeUndefined()
    // The lock it took is released (or was never kept): another process gets it within a second.
    let token: string | undefined
    for (let i = 0; i < 20 && token === undefined; i++) {
      token = await direct.lock.acquire('ns', 'lock', 30_000)
      if (token === undefined) await sleep(50)
    }
    expect(token).toBeDefined()
  })
})
