import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, redisCli, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { type ReplyCutProxy, startReplyCutProxy } from '../../../test/helpers/reply-cut-proxy.js'
import { RedisStore } from '../src/index.js'

const write = (text: string) => ({ data: Buffer.from(text), freshMs: 60_000, keepMs: 60_000 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// A read without a script (MGET) marks its value key as being read that way until its reply
// (#bareReads), so that a huge value is not asked for by every read sent meanwhile. A client made
// with autoResendUnfulfilledCommands: false never sends again, nor settles, the commands
// unanswered when its connection closed: the keys of a bare read lost that way stayed marked
// for good, and every later read of them, single or in a getMany, ran the read script.
describe('a read without a script lost with its connection, on a client that does not send it again (own server on 127.0.0.1:7167, through a proxy)', () => {
  let server: RedisServer
  let proxy: ReplyCutProxy
  let client: Redis
  let store: RedisStore

  beforeAll(async () => {
    server = await startRedisServer(7167)
    proxy = await startReplyCutProxy(server.port)
    client = new Redis({
      port: proxy.port,
      host: '127.0.0.1',
      autoResendUnfulfilledCommands: false,
      retryStrategy: () => 10,
    })
    client.on('error', () => {})
    store = new RedisStore({ client, prefix: 'nr', commandTimeoutMs: 300 })
    store.on('error', () => {})
  })
  afterAll(async () => {
    await store?.close()
    client?.disconnect()
    await proxy?.stop()
    await server?.stop()
  })

  const mgets = async () =>
    Number(/cmdstat_mget:calls=(\d+)/.exec(await redisCli(server.port, 'info', 'commandstats'))?.[1] ?? 0)

  it('leaves its keys to be read without a script again once reconnected', async () => {
    await store.set('ns', 'one', write('1'))
    await store.set('ns', 'many', write('2'))
    await store.get('ns', 'one')
    const cut = proxy.cutNextReply()
    const lost = Promise.all([store.get('ns', 'one'), store.readMany('ns', ['many'])]).catch(() => undefined)
    await cut
    await lost
    await sleep(100)
    // A script reply renews the store's reading of Redis's clock, which the reconnection forgot.
    await store.get('ns', 'absent')
    const before = await mgets()
    expect(Buffer.from((await store.get('ns', 'one'))!.data!).toString()).toBe('1')
    expect(Buffer.from((await store.readMany('ns', ['many']))[0]!.record!.data!).toString()).toBe('2')
    expect((await mgets()) - before).toBe(2)
  })
})
