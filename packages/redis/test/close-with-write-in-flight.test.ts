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

// A store sharing a client fails its writes unanswered when the connection closes, so that
// ioredis does not send them again (c309407). close() took that listener off the socket: a store
// closed with a write in flight (a shutdown) on a client that stays open left the write to be
// sent again after a lost reply, to run a second time after a delete that had resolved; the set
// even resolved applied.
describe('a store closed with its write in flight, on a client that stays open (own server on 127.0.0.1:7168, through a proxy)', () => {
  let server: RedisServer
  let proxy: ReplyCutProxy
  let client: Redis
  let direct: RedisStore

  beforeAll(async () => {
    server = await startRedisServer(7168)
    proxy = await startReplyCutProxy(server.port)
    client = new Redis({ port: proxy.port, host: '127.0.0.1', retryStrategy: () => 10 })
    client.on('error', () => {})
    direct = new RedisStore({ client: new Redis({ port: server.port, host: '127.0.0.1' }), prefix: 'cw' })
  })
  afterAll(async () => {
    await direct?.close()
    direct?.client.disconnect()
    client?.disconnect()
    await proxy?.stop()
    await server?.stop()
  })

  it('is not run again once the reply is lost: a delete that resolved in between stands', async () => {
    const store = new RedisStore({ client, prefix: 'cw', commandTimeoutMs: 2_000 })
    store.on('error', () => {})
    await store.set('ns', 'k', write('v0'))
    const cut = proxy.cutNextReply(async () => {
      // The set has run; the store is closed, then another process deletes the key.
      expect(await text(direct, 'k')).toBe('v1')
      await store.close()
      await direct.delete('ns', 'k')
    })
    const set = store.set('ns', 'k', write('v1')).then(
      () => 'resolved',
      (error: { outcome?: string }) => error.outcome,
    )
    await cut
    expect(await set).toBe('unknown')
    await sleep(300)
    expect(await text(direct, 'k')).toBeUndefined()
  })

  it('nor when it was waiting for the connection when the store closed', async () => {
    // The client connects with the write waiting in its offline queue, the store already closed.
    const lazy = new Redis({
      port: proxy.port,
      host: '127.0.0.1',
      retryStrategy: () => 10,
      lazyConnect: true,
      enableReadyCheck: false,
      disableClientInfo: true,
    })
    lazy.on('error', () => {})
    const store = new RedisStore({ client: lazy, prefix: 'cw', commandTimeoutMs: 2_000 })
    store.on('error', () => {})
    await direct.set('ns', 'q', write('v0'))
    // Conditional, at the generation of another store's read: one round trip, the write itself.
    const { version } = await direct.read('ns', 'q')
    const cut = proxy.cutNextReply(async () => {
      expect(await text(direct, 'q')).toBe('v1')
      await direct.delete('ns', 'q')
    })
    const set = store.set('ns', 'q', { ...write('v1'), ifVersion: version }).then(
      () => 'resolved',
      (error: { outcome?: string }) => error.outcome,
    )
    await store.close()
    await cut
    expect(await set).toBe('unknown')
    await sleep(300)
    expect(await text(direct, 'q')).toBeUndefined()
    lazy.disconnect()
  })
})
