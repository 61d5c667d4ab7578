import { StoreCallError } from '@tiercache/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, redisCli, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

const write = (text: string) => ({ data: Buffer.from(text), freshMs: 60_000, keepMs: 60_000 })
const text = async (store: RedisStore, key: string) => {
  const record = await store.get('ns', key)
  return record?.data === undefined ? undefined : Buffer.from(record.data).toString()
}

async function rejection(call: Promise<unknown>): Promise<unknown> {
  try {
    await call
  } catch (error) {
    return error
  }
  throw new Error('expected the call to reject')
}

// Redis refuses the PUBLISH of an announced write to an ACL user without the channel (a new
// user of Redis 7 has none). The scripts published after their write: the write landed, the
// script failed, and the caller was told `not-applied` for a value that was there.
describe('an announcement Redis refuses (own server on 127.0.0.1:7110, ACL user without channels)', () => {
  let server: RedisServer
  let client: Redis
  let store: RedisStore

  beforeAll(async () => {
    server = await startRedisServer(7110)
    await redisCli(server.port, 'ACL', 'SETUSER', 'app', 'on', '>pw', '~*', '+@all', 'resetchannels')
    client = new Redis({ port: server.port, host: '127.0.0.1', username: 'app', password: 'pw' })
    store = new RedisStore({ client, prefix: 'refused' })
    store.on('error', () => {})
  })
  afterAll(async () => {
    await store.close()
    client.disconnect()
    await server.stop()
  })

  const announce = () => ({ via: client, channel: 'invalidations', message: Buffer.from('m'), sharded: false })

  it('a set reported not applied left the old value in place', async () => {
    await store.set('ns', 'set', write('old'))
    const error = await rejection(store.set('ns', 'set', { ...write('new'), announce: announce() }))
    expect(error).toBeInstanceOf(StoreCallError)
    expect(error).toMatchObject({ kind: 'server', outcome: 'not-applied' })
    expect(await text(store, 'set')).toBe('old')
  })

  it('a delete reported not applied left the value in place', async () => {
    await store.set('ns', 'delete', write('kept'))
    const error = await rejection(store.delete('ns', 'delete', { announce: announce() }))
    expect(error).toMatchObject({ kind: 'server', outcome: 'not-applied' })
    expect(await text(store, 'delete')).toBe('kept')
  })

  it('a purge reported not applied left the namespace readable', async () => {
    await store.set('ns', 'purge', write('kept'))
    const error = await rejection(store.purge('ns', { announce: announce() }))
    expect(error).toMatchObject({ kind: 'server', outcome: 'not-applied' })
    // Another process (which learns the generation from Redis) still reads the value.
    const other = new RedisStore({ client, prefix: 'refused' })
    try {
      expect(await text(other, 'purge')).toBe('kept')
    } finally {
      await other.close()
    }
  })

  it('a release whose PUBLISH is refused still releases, and says so', async () => {
    const token = await store.lock.acquire('ns', 'lock', 10_000)
    expect(token).toBeDefined()
    expect(await store.lock.release('ns', 'lock', token!)).toBe(true)
    expect(await store.lock.acquire('ns', 'lock', 10_000)).toBeDefined()
  })
})
