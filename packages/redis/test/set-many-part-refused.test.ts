import { StoreCallError } from '@tiercache/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, redisCli, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

const MB = 1024 * 1024
const write = (data: Uint8Array) => ({ data, freshMs: 60_000, keepMs: 60_000 })

async function rejection(call: Promise<unknown>): Promise<unknown> {
  try {
    await call
  } catch (error) {
    return error
  }
  throw new Error('expected the call to reject')
}

// A setMany of unconditional and conditional writes sends one script per group of keys. Redis
// at maxmemory (noeviction, the policy for caches that must stay coherent) ran the first group,
// then refused the second with OOM: the setMany was reported `not-applied` with the first
// group's value written.
describe('a setMany whose second group Redis refuses (own server on 127.0.0.1:7111, noeviction)', () => {
  let server: RedisServer
  let client: Redis
  let store: RedisStore

  beforeAll(async () => {
    server = await startRedisServer(7111, ['--maxmemory-policy', 'noeviction'])
    client = new Redis({ port: server.port, host: '127.0.0.1' })
    store = new RedisStore({ client, prefix: 'part', maxValueBytes: 8 * MB })
    store.on('error', () => {})
  })
  afterAll(async () => {
    await store.close()
    client.disconnect()
    await server.stop()
  })

  it('is reported as may have landed when the other group did land', async () => {
    await store.set('ns', 'a', write(Buffer.from('a0')))
    await store.set('ns', 'b', write(Buffer.from('b0')))
    const { version } = await store.read('ns', 'b')
    // Room for the small first group, not for the 4 MB value of the second once it is read in.
    const used = Number(/used_memory:(\d+)/.exec(await redisCli(server.port, 'INFO', 'memory'))![1])
    await redisCli(server.port, 'CONFIG', 'SET', 'maxmemory', String(used + 2 * MB))
    let error: unknown
    try {
      error = await rejection(
        store.setMany('ns', [
          ['a', write(Buffer.from('a1'))],
          ['b', { ...write(Buffer.alloc(4 * MB, 1)), ifVersion: version }],
        ]),
      )
    } finally {
      await redisCli(server.port, 'CONFIG', 'SET', 'maxmemory', '0')
    }
    expect(error).toBeInstanceOf(StoreCallError)
    expect(String((error as StoreCallError).cause)).toMatch(/^ReplyError: OOM/)
    // The first group landed...
    expect(Buffer.from((await store.get('ns', 'a'))!.data!).toString()).toBe('a1')
    // ...so the caller must not be told nothing was written.
    expect(error).toMatchObject({ kind: 'server', outcome: 'unknown' })
    expect(store.circuit).toBe('closed')
  })
})
