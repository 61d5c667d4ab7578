import { randomUUID } from 'node:crypto'
import { DecodeError, TierCache } from '@tiercache/core'
import { RedisStore } from '@tiercache/redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const PREFIX = 'tc-redis-mp:'

describe('malformed bytes in a cache key, read through TierCache', () => {
  let store: RedisStore
  beforeAll(() => {
    store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: PREFIX })
  })
  afterAll(() => store.close())

  const setup = () => {
    const name = `malformed-${randomUUID()}`
    const cache = new TierCache<string>({ name, store, lruSize: 0, ttl: 10_000 })
    const errors: unknown[] = []
    cache.on('error', (error) => errors.push(error))
    // The key of a record at the namespace's generation (made by the store's first call on it).
    const valueKey = async (key: string) => {
      await store.get(name, key)
      return `${PREFIX}{${name}:${key}}:${await store.client.get(`${PREFIX}{${name}}:gen`)}`
    }
    return { name, cache, errors, valueKey }
  }

  it('bytes that are not a record: a miss (the loader runs), reported on the cache error event', async () => {
    const { cache, errors, valueKey } = setup()
    await store.client.set(await valueKey('k'), 'written by somebody else')
    const loaded = await cache.getWithInfo('k', () => 'fresh')
    expect(loaded).toMatchObject({ value: 'fresh', hitLevel: 3 })
    // Reported once per read: the core reads before taking the lock and again after.
    expect(errors.length).toBeGreaterThanOrEqual(1)
    for (const error of errors) {
      expect(error).toBeInstanceOf(DecodeError)
      expect(error).toMatchObject({ key: 'k', namespace: cache.name })
    }
    // The loaded value replaced the garbage.
    expect(await cache.getWithInfo('k')).toMatchObject({ value: 'fresh', hitLevel: 2 })
    cache.close()
  })

  it('a valid envelope around bytes the codec cannot read: a miss, reported by the core', async () => {
    const { name, cache, errors } = setup()
    // 0xc1 is never valid MessagePack.
    await store.set(name, 'k', { data: Uint8Array.from([0xc1, 0xc1]), freshMs: 10_000, keepMs: 10_000 })
    expect(await cache.getWithInfo('k', () => 'fresh')).toMatchObject({ value: 'fresh', hitLevel: 3 })
    expect(errors.some((error) => error instanceof DecodeError)).toBe(true)
    cache.close()
  })
})
