import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisStore } from '../src/index.js'

// Issue 15: at 64 reads in flight, a Redis hit spent as much CPU in its socket write (one system
// call per command, as ioredis writes them) as in the rest of its path. The calls a task makes
// now leave in one write.
describe('the calls of one task leave in one socket write (127.0.0.1:6379)', () => {
  const prefix = `tctest:onewrite:${randomUUID()}:`
  const client = new Redis({ host: '127.0.0.1', port: 6379 })
  const store = new RedisStore({ client, prefix })
  let writes = 0
  let chunks = 0

  beforeAll(async () => {
    await store.get('ns', 'warm') // connected, and the namespace's generation learnt
    // Hits: a read of an absent key is two commands (the one without a script finds nothing, the script confirms).
    const record = { data: Uint8Array.of(1), freshMs: 60_000, keepMs: 60_000 }
    await store.setMany('ns', [
      ...Array.from({ length: 20 }, (_, i) => [`k${i}`, record] as const),
      ...Array.from({ length: 10 }, (_, i) => [`a${i}`, record] as const),
      ...Array.from({ length: 10 }, (_, i) => [`b${i}`, record] as const),
    ])
    const socket = client.stream as unknown as {
      _write: (...a: unknown[]) => void
      _writev: (list: unknown[], cb: unknown) => void
    }
    const write = socket._write.bind(socket)
    const writev = socket._writev.bind(socket)
    socket._write = (...a) => {
      writes++
      chunks++
      write(...a)
    }
    socket._writev = (list, cb) => {
      writes++
      chunks += list.length
      writev(list, cb)
    }
  })
  afterAll(async () => {
    await store.close()
    client.disconnect()
  })

  it('20 concurrent reads: 20 commands in one write', async () => {
    writes = 0
    chunks = 0
    const reads = await Promise.all(Array.from({ length: 20 }, (_, i) => store.get('ns', `k${i}`)))
    expect(reads.every((record) => record?.data?.[0] === 1)).toBe(true)
    expect(chunks).toBe(20)
    expect(writes).toBe(1)
  })

  it('a read made while replies are handled joins the others of that task', async () => {
    writes = 0
    chunks = 0
    // Each reply starts the next read a few promise steps later, as a caller awaiting a get does.
    const chain = async (i: number) => {
      await store.get('ns', `a${i}`)
      await null
      await null
      await store.get('ns', `b${i}`)
    }
    await Promise.all(Array.from({ length: 10 }, (_, i) => chain(i)))
    expect(chunks).toBe(20)
    expect(writes).toBeLessThan(20)
  })
})
