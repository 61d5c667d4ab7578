import { randomUUID } from 'node:crypto'
import { TierCache } from '@tiercache/core'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { RedisStore } from '../src/index.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
/** Keep the event loop busy (a long handler, a GC pause, a SIGSTOP'd process): replies wait in the socket. */
const busy = (ms: number) => {
  const end = performance.now() + ms
  while (performance.now() < end) {}
}

// Found in review: the read scripts return each key's PTTL as Redis saw it when it ran the
// script, and the store handed it on as the record's remaining time as of when the caller got
// it. A reply that waited in the socket (the process busy, paused, or a GC) came with its
// remaining time unspent: a record written with a 1 s TTL and read by a script sent at once,
// its reply processed 600 ms later, read as fresh for 999 ms more, so the cache kept it fresh
// until 1.6 s after the write (1.5 s later: 2.5 s, after Redis had dropped the key). The read
// without a script (MGET) takes Redis's time when its reply is handled and was not affected.
describe('a store reply that waits in the socket (127.0.0.1:6379)', () => {
  const prefix = `tctest:late-reply:${randomUUID()}:`
  const store = new RedisStore({
    client: new Redis({ host: '127.0.0.1', port: 6379 }),
    prefix,
    commandTimeoutMs: 5_000,
  })
  afterAll(async () => {
    const raw = new Redis({ host: '127.0.0.1', port: 6379 })
    const keys = await raw.keys(`${prefix}*`)
    if (keys.length > 0) await raw.del(...keys)
    raw.disconnect()
    await store.close()
    store.client.disconnect()
  })

  const cases = {
    'getMany (the many-key read script)': (n: string) => store.getMany(n, ['k']).then((records) => records[0]),
    'get through the one-key read script (clock reading over a second old)': (n: string) => store.get(n, 'k'),
    'get through MGET (clock reading recent)': (n: string) => store.get(n, 'k'),
  }

  for (const [name, read] of Object.entries(cases)) {
    it(`${name}: never fresher, nor kept longer, than the record's TTL from its write`, async () => {
      const n = `ns-${randomUUID()}`
      // Learn the generation (and, for the MGET case, Redis's clock) first.
      await store.set(n, 'warm', { data: Uint8Array.of(1), freshMs: 60_000, keepMs: 60_000 })
      await store.getMany(n, ['warm'])
      await store.get(n, 'absent')
      if (name.includes('over a second old')) await sleep(1_100)
      await store.set(n, 'k', { data: Uint8Array.of(2), freshMs: 1_000, keepMs: 1_000 })
      // Redis ran the SET before this instant: the key is gone by written + 1 000 ms.
      const written = performance.now()
      const pending = read(n)
      // After the store's send (a tick of its own), before the reply is read.
      process.nextTick(() => busy(600))
      const record = await pending
      const at = performance.now()
      expect(at - written).toBeGreaterThanOrEqual(600)
      expect(record).toBeDefined()
      // Redis counts TTLs in whole ms of its own truncated clock (PX at the SET, PTTL at the read),
      // so a PTTL may overstate what is left by under 1 ms (seen: 0.41 ms): the bound is to the ms.
      expect(at + record!.freshMs).toBeLessThanOrEqual(written + 1_001)
      expect(at + record!.keepMs).toBeLessThanOrEqual(written + 1_001)
    })
  }
  // What it cost a cache: another node's L1 served the value as a fresh hit past its TTL.
  it("another node's cache does not serve a value past its TTL when its store read's reply waited", async () => {
    const name = `late-${randomUUID()}`
    const writerStore = new RedisStore({ client: new Redis({ host: '127.0.0.1', port: 6379 }), prefix })
    const writer = new TierCache<string>({ name, store: writerStore, ttl: 1_000 })
    const reader = new TierCache<string>({ name, store, ttl: 1_000 })
    try {
      await reader.get('warm', async () => 'warm')
      await sleep(1_100) // the reader's reading of Redis's clock is old: its next read takes the script
      await writer.set('k', 'v1')
      const written = performance.now()
      const first = reader.getWithInfo('k')
      process.nextTick(() => busy(600))
      expect(await first).toMatchObject({ value: 'v1', hitLevel: 2 })
      await sleep(written + 1_300 - performance.now())
      // Before: { value: 'v1', hitLevel: 1, stale: false }, 1.3 s after a set with a 1 s TTL.
      expect(await reader.getWithInfo('k')).toMatchObject({ value: undefined })
    } finally {
      await writerStore.close()
      writerStore.client.disconnect()
    }
  })
  // The same on the writing node: `set` put the value in its L1 with the TTL counted from when the
  // store's reply was handled, not from when the write was sent, so it outlived the record in Redis.
  it("the writing node's cache does not serve its own set past its TTL when the write's reply waited", async () => {
    const name = `late-set-${randomUUID()}`
    const cache = new TierCache<string>({ name, store, ttl: 1_000 })
    await cache.get('warm', async () => 'warm')
    const started = performance.now()
    const setting = cache.set('k', 'v1')
    process.nextTick(() => busy(600))
    await setting
    await sleep(started + 1_300 - performance.now())
    // Redis dropped the record by started + 1 000 ms. Before: { value: 'v1', hitLevel: 1, stale: false }.
    expect(await store.get(name, 'k')).toBeUndefined()
    expect(await cache.getWithInfo('k')).toMatchObject({ value: undefined })
  })
})
