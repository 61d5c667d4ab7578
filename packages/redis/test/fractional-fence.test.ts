import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

const short = (text: string) => ({ data: Buffer.from(text), freshMs: 500, keepMs: 1_000 })

// fenceMs went to Redis as it was given. A record kept less than the fence window also writes
// its version key with PX fenceMs, after the record itself: Redis refused a fractional PX, the
// script failed after its first SET, and the write (or touch, or delete) was reported
// `not-applied` with the record written and its version key missing.
describe('a fractional fenceMs (own server on 127.0.0.1:7112)', () => {
  let server: RedisServer
  let client: Redis
  let store: RedisStore

  beforeAll(async () => {
    server = await startRedisServer(7112)
    client = new Redis({ port: server.port, host: '127.0.0.1' })
    store = new RedisStore({ client, prefix: 'fence', fenceMs: 60_000.5 })
    store.on('error', () => {})
  })
  afterAll(async () => {
    await store.close()
    client.disconnect()
    await server.stop()
  })

  it('a set, a touch and a delete of a record kept less than the fence window are applied and say so', async () => {
    await expect(store.set('ns', 'k', short('v1'))).resolves.toMatchObject({ applied: true })
    const { version } = await store.read('ns', 'k')
    await expect(store.touch('ns', 'k', { freshMs: 500, keepMs: 1_000, ifVersion: version })).resolves.toMatchObject({
      applied: true,
    })
    await expect(store.delete('ns', 'k')).resolves.toMatchObject({ applied: true })
    // The delete's tombstone refuses the write of a load that read before it.
    await expect(store.set('ns', 'k', { ...short('stale'), ifVersion: version })).resolves.toMatchObject({
      applied: false,
    })
    expect(await store.get('ns', 'k')).toBeUndefined()
  })
})
