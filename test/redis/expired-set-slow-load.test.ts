// A load that read before a set, and whose slow loader finished after that set's value had
// expired from Redis by its TTL, wrote its older value as if nothing had happened (issue 10,
// guarantee 1): the set's version went with its record, and the key read as never written.
// Three caches on the shared Redis, each with its own connection, as three processes would be.
import { randomUUID } from 'node:crypto'
import { TierCache } from '@tiercache/core'
import { RedisStore } from '@tiercache/redis'
import { afterAll, describe, expect, it } from 'vitest'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('a set whose value expired by its TTL still fences the loads that read before it', () => {
  const name = `expired-set-${randomUUID()}`
  const stores: RedisStore[] = []
  const node = () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'tc-expired-set:' })
    stores.push(store)
    // hardTimeout well above the loader's time: the load is still legitimately running when it writes.
    return new TierCache<string>({ name, store, ttl: 60_000, hardTimeout: 5_000 })
  }
  afterAll(async () => {
    for (const store of stores) await store.close()
  })

  it('a slow load that read before a 100 ms set and returns after it expired caches nothing', async () => {
    const [loading, writing, reading] = [node(), node(), node()]
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let started!: () => void
    const running = new Promise<void>((resolve) => {
      started = resolve
    })
    const load = loading.get('k', async () => {
      started()
      await gate
      return 'loaded before the set'
    })
    await running // it has read the key (absent) and holds the lock

    await writing.set('k', 'set', { ttl: 100 })
    expect(await reading.get('k')).toBe('set')
    await sleep(300) // the set's record is gone from Redis (ttl 100 ms, no stale window)
    expect(await writing.store.get(name, 'k')).toBeUndefined()

    release()
    // Its own callers get what it loaded: their call overlapped the set.
    expect(await load).toBe('loaded before the set')
    // But it is cached nowhere: not in Redis, not in the loading node's L1.
    expect(await writing.store.get(name, 'k')).toBeUndefined()
    expect(loading.peek('k')).toBeUndefined()
    expect(await reading.get('k', async () => 'loaded after the set')).toBe('loaded after the set')
    expect(await loading.get('k')).toBe('loaded after the set')
  })
})
