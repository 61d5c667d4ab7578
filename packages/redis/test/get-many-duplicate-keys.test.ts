import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, redisCli, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

const MB = 1024 * 1024

// getMany reads its hits with one MGET (c3caf11). MGET sends a value as many times as it is
// named: a key given three times in one getMany brought a value over maxValueBytes across the
// wire three times in one reply (62.9 MB for a 20 MB value), where the store promises a huge
// value crosses the wire once per process, then only its size (the script). With a thousand
// repeats of a 50 MB key, one call asked Redis for 50 GB.
describe('getMany with a key given more than once (own server on 127.0.0.1:7154)', () => {
  let server: RedisServer
  let writer: RedisStore
  let reader: RedisStore

  beforeAll(async () => {
    server = await startRedisServer(7154)
    writer = new RedisStore({ url: server.url, prefix: 'dup:', maxValueBytes: 64 * MB })
    reader = new RedisStore({ url: server.url, prefix: 'dup:', maxValueBytes: 1024, commandTimeoutMs: 5_000 })
    reader.on('error', () => {})
  })
  afterAll(async () => {
    await writer?.close()
    await reader?.close()
    await server?.stop()
  })

  const sentByRedis = async () => Number(/total_net_output_bytes:(\d+)/.exec(await redisCli(7154, 'info', 'stats'))![1])

  it('asks MGET for each value once: a value over the read limit crosses the wire once, not once per repeat', async () => {
    await writer.set('ns', 'big', { data: new Uint8Array(4 * MB).fill(1), freshMs: 60_000, keepMs: 60_000 })
    await writer.set('ns', 'small', { data: Uint8Array.of(7), freshMs: 60_000, keepMs: 60_000 })
    // A script reply first: the store reads by MGET once it has a recent reading of Redis's clock.
    await reader.get('ns', 'absent')
    const before = await sentByRedis()
    const reads = await reader.readMany('ns', ['big', 'small', 'big', 'big', 'small'])
    const sent = (await sentByRedis()) - before
    expect(sent).toBeLessThan(5 * MB)
    // Each position still gets its key's answer.
    expect(reads.map((read) => read.record?.data?.[0])).toEqual([undefined, 7, undefined, undefined, 7])
    expect(reads[1]!.version).toBe(reads[4]!.version)
    expect(reads[0]!.version).toBe(reads[2]!.version)
  })
})
