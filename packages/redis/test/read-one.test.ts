import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisStore } from '../src/index.js'

// Issue 15: one key's read runs its own script (four commands for a hit instead of six, the
// version id taken from the value's own bytes). It must read every kind of key exactly as the
// many-key script does: same record, same version, same reports.
describe('one key read as many keys are (127.0.0.1:6379)', () => {
  const prefix = `tctest:readone:${randomUUID()}:`
  const raw = new Redis({ host: '127.0.0.1', port: 6379 })
  const store = new RedisStore({ client: new Redis({ host: '127.0.0.1', port: 6379 }), prefix, maxValueBytes: 64 })
  const errors: string[] = []
  store.on('error', (error) =>
    errors.push(`${(error as { kind?: string }).kind ?? error.name}:${(error as { key?: string }).key}`),
  )
  const n = `ns-${randomUUID()}`
  const valueKey = async (key: string) => `${prefix}{${n}:${key}}:${await raw.get(`${prefix}{${n}}:gen`)}`
  const bytes = (size: number, fill = 1) => new Uint8Array(size).fill(fill)

  beforeAll(async () => {
    await store.set(n, 'record', { data: bytes(10), freshMs: 60_000, keepMs: 90_000, staleMs: 5_000 })
    await store.set(n, 'negative', { data: undefined, freshMs: 60_000, keepMs: 60_000 })
    await store.set(n, 'large', { data: bytes(60), freshMs: 60_000, keepMs: 60_000 })
    await store.set(n, 'deleted', { data: bytes(3), freshMs: 60_000, keepMs: 60_000 })
    await store.delete(n, 'deleted')
    // Grown past maxValueBytes behind the store's back (a store with a larger limit wrote it).
    await raw.append(await valueKey('large'), Buffer.alloc(100))
    await raw.set(await valueKey('text'), 'hello, not a record, and longer than twenty-four bytes')
    await raw.set(await valueKey('short'), 'hi')
    await raw.set(await valueKey('empty'), '')
    await raw.hset(await valueKey('hash'), 'field', 'value')
  })
  afterAll(async () => {
    const keys = await raw.keys(`${prefix}*`)
    if (keys.length > 0) await raw.del(...keys)
    raw.disconnect()
    await store.close()
    store.client.disconnect()
  })

  /**
   * A read without what differs between two reads of the same key: the instant in the version
   * token, and the remaining times (kept: the time between fresh and kept, and the fresh time to the second).
   */
  const timeless = (read: { record?: unknown; version: string }) => {
    const record = read.record as { version: string; freshMs: number; keepMs: number } | undefined
    const { freshMs, keepMs, ...rest } = record ?? { freshMs: 0, keepMs: 0 }
    return {
      version: read.version.replace(/\.\d+\./, '.'),
      record:
        record === undefined
          ? undefined
          : {
              ...rest,
              version: record.version.replace(/\.\d+\./, '.'),
              freshS: Math.round(freshMs / 1000),
              keptMs: keepMs - freshMs,
            },
    }
  }

  it('reads every kind of key, one at a time, as the many-key read does', async () => {
    const keys = ['record', 'negative', 'large', 'deleted', 'absent', 'text', 'short', 'empty', 'hash']
    errors.length = 0
    const many = await store.readMany(n, keys)
    const manyErrors = errors.splice(0)
    const one = []
    for (const key of keys) one.push(await store.read(n, key))
    expect(errors).toEqual(manyErrors)
    expect(one.map(timeless)).toEqual(many.map(timeless))
    // What each kind reads as, so the equality above is not two equal mistakes.
    const [record, negative, large, deleted, absent, text] = one
    expect(Array.from((record!.record!.data as Uint8Array) ?? [])).toEqual(Array.from(bytes(10)))
    expect(record!.record!.staleMs).toBe(5_000)
    expect(negative!.record).toMatchObject({ data: undefined })
    expect([large!.record, deleted!.record, absent!.record, text!.record]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ])
    expect(deleted!.version).not.toBe(absent!.version.replace(/^(\d+\.\d+\.).*/, '$1'))
    expect(manyErrors).toEqual([
      'too-large:large',
      'MalformedRecordError:text',
      'MalformedRecordError:short',
      'MalformedRecordError:empty',
      'MalformedRecordError:hash',
    ])
  })

  it('a load that read a key writes back only while the key holds what it read, for every kind of key', async () => {
    for (const key of ['record', 'deleted', 'absent', 'text']) {
      const read = await store.read(n, key)
      expect(
        (await store.set(n, key, { data: bytes(2), freshMs: 60_000, keepMs: 60_000, ifVersion: read.version })).applied,
      ).toBe(true)
      // The same version again: the key changed since, so this write is refused.
      expect(
        (await store.set(n, key, { data: bytes(4), freshMs: 60_000, keepMs: 60_000, ifVersion: read.version })).applied,
      ).toBe(false)
    }
  })
})
