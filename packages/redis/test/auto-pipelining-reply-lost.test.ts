import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { type ReplyCutProxy, startReplyCutProxy } from '../../../test/helpers/reply-cut-proxy.js'
import { RedisStore } from '../src/index.js'

const write = (text: string) => ({ data: Buffer.from(text), freshMs: 60_000, keepMs: 60_000 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** What `promise` settled to within `ms`: ['ok', value], ['error', message], or ['pending']. */
const within = (promise: Promise<unknown>, ms = 1_000) =>
  Promise.race([
    promise.then(
      (value) => ['ok', value],
      (error: Error) => ['error', error.message],
    ),
    sleep(ms).then(() => ['pending']),
  ])
const text = async (store: RedisStore, key: string) => {
  const record = await store.get('ns', key)
  return record?.data === undefined ? undefined : Buffer.from(record.data).toString()
}

// A store sharing a client made with enableAutoPipelining: ioredis puts the store's write
// script and the user's commands of the same tick in one pipeline. When the connection
// closed with them unanswered, the store took its write out of ioredis's queue (c309407) and
// ioredis sent the rest of the pipeline again on the next connection, through the pipeline's
// writer, which writes only once it has every command of the pipeline: the user's GET was
// queued as sent and never written. The next reply Redis gave (to any later command) went to
// it, every later reply to the command before its own (a user's GET answered with the store's
// NOSCRIPT, a store read with another command's reply), and the client's auto-pipeline for
// that node stayed busy forever (every later command of the user pending).
describe('a write whose reply is lost, in an auto-pipeline with other commands (own server on 127.0.0.1:7165, through a proxy)', () => {
  let server: RedisServer
  let proxy: ReplyCutProxy
  let client: Redis
  let store: RedisStore
  let direct: RedisStore

  beforeAll(async () => {
    server = await startRedisServer(7165)
    proxy = await startReplyCutProxy(server.port)
    client = new Redis({ port: proxy.port, host: '127.0.0.1', enableAutoPipelining: true, retryStrategy: () => 10 })
    client.on('error', () => {})
    store = new RedisStore({ client, prefix: 'ap', commandTimeoutMs: 3_000 })
    store.on('error', () => {})
    direct = new RedisStore({ client: new Redis({ port: server.port, host: '127.0.0.1' }), prefix: 'ap' })
  })
  afterAll(async () => {
    await store?.close()
    await direct?.close()
    client?.disconnect()
    direct?.client.disconnect()
    await proxy?.stop()
    await server?.stop()
  })

  it("is failed with the pipeline's other commands, and the connection answers each command its own reply after", async () => {
    await client.set('user', 'mine')
    await direct.set('ns', 'x', write('X'))
    await store.set('ns', 'k', write('v0'))
    const cut = proxy.cutNextReply(async () => {
      // The set has run: another process reads its value, then deletes the key.
      expect(await text(direct, 'k')).toBe('v1')
      await direct.delete('ns', 'k')
    })
    const set = store.set('ns', 'k', write('v1'))
    set.catch(() => {})
    // The user's GET joins the store's write in the auto-pipeline (sent at the end of the tick).
    let user: Promise<unknown> = Promise.resolve()
    process.nextTick(() => {
      user = client.get('user')
      user.catch(() => {})
    })
    await cut
    // Both settle: the write as unknown (it ran), the GET with it (not sent again without its pipeline).
    expect((await within(set))[0]).toBe('error')
    expect(await set.catch((error: { outcome?: string }) => error.outcome)).toBe('unknown')
    expect((await within(user))[0]).not.toBe('pending')
    await sleep(100)
    // Each command gets its own reply on the new connection.
    expect(await within(client.get('user'))).toEqual(['ok', 'mine'])
    expect(await within(text(store, 'x'))).toEqual(['ok', 'X'])
    expect(await within(client.get('user'))).toEqual(['ok', 'mine'])
    // And the write did not run a second time.
    expect(await text(direct, 'k')).toBeUndefined()
  })
})
