import { randomUUID } from 'node:crypto'
import { DecodeError } from '@tiercache/core'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type RedisServer, redisCli, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

const PREFIX = 'tc-redis-test:'
const bytes = (...values: number[]) => Uint8Array.from(values)
const ns = () => `store-${randomUUID()}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const generationKey = (n: string) => `${PREFIX}{${n}}:gen`

describe('RedisStore on 127.0.0.1:6379', () => {
  let raw: Redis
  let store: RedisStore
  let other: RedisStore
  beforeAll(() => {
    raw = new Redis({ host: '127.0.0.1', port: 6379 })
    store = new RedisStore({ client: new Redis({ host: '127.0.0.1', port: 6379 }), prefix: PREFIX })
    other = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: PREFIX })
  })
  afterAll(async () => {
    await store.close()
    store.client.disconnect()
    await other.close()
    raw.disconnect()
  })
  /** The Redis key of `key`'s record in namespace `n` now (the store made `n`'s generation on its first call). */
  const valueKey = async (n: string, key: string) => `${PREFIX}{${n}:${key}}:${await raw.get(generationKey(n))}`

  describe('freshness by Redis clock', () => {
    it('ignores the host clock: a host 1 hour ahead still reads a fresh record as fresh', async () => {
      const n = ns()
      await store.set(n, 'k', { data: bytes(1), freshMs: 10_000, keepMs: 30_000 })
      vi.useFakeTimers({ toFake: ['Date'] })
      try {
        vi.setSystemTime(Date.now() + 3_600_000)
        const record = await other.get(n, 'k')
        expect(record!.freshMs).toBeGreaterThan(9_000)
        expect(record!.freshMs).toBeLessThanOrEqual(10_000)
      } finally {
        vi.useRealTimers()
      }
    })

    it('the read script follows the key PTTL: fresh = PTTL - stale window, so Redis alone decides', async () => {
      const n = ns()
      await store.set(n, 'k', { data: bytes(1), freshMs: 10_000, keepMs: 30_000 })
      const key = await valueKey(n, 'k')
      // Move the record's clock on the server only: 25 s of its 30 s are gone. A store with no
      // reading of Redis's clock yet reads through the script (as every read on a Cluster does),
      // which takes PTTL; a stamped read goes by the expiry the write stamped, which a PEXPIRE by
      // hand does not change (docs/redis.md).
      expect(await raw.pexpire(key, 5_000)).toBe(1)
      const first = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: PREFIX })
      try {
        const [record] = await first.getMany(n, ['k'])
        expect(record!.freshMs).toBeLessThanOrEqual(5_000 - 20_000)
        expect(record!.freshMs).toBeGreaterThan(5_000 - 20_000 - 100)
        expect(record!.keepMs).toBeLessThanOrEqual(5_000)
        expect(record!.keepMs).toBeGreaterThan(4_900)
        expect(Array.from(record!.data!)).toEqual([1])
      } finally {
        await first.close()
      }
    })

    it("returns the writer's staleMs with the record", async () => {
      const n = ns()
      await store.set(n, 'k', { data: bytes(1), freshMs: 1_000, keepMs: 9_000, staleMs: 4_000 })
      expect((await other.get(n, 'k'))!.staleMs).toBe(4_000)
      await store.set(n, 'plain', { data: bytes(1), freshMs: 1_000, keepMs: 9_000 })
      expect((await other.get(n, 'plain'))!.staleMs).toBeUndefined()
    })

    it('stores PX = keepMs (fresh + stale window) so stale values stay findable', async () => {
      const n = ns()
      await store.set(n, 'k', { data: bytes(1), freshMs: 1_000, keepMs: 61_000 })
      const pttl = await raw.pttl(await valueKey(n, 'k'))
      expect(pttl).toBeGreaterThan(60_000)
      expect(pttl).toBeLessThanOrEqual(61_000)
    })
  })

  describe('namespaces and generations', () => {
    it('a purge by one process is seen by the next read of another', async () => {
      const n = ns()
      await store.set(n, 'k', { data: bytes(1), freshMs: 10_000, keepMs: 10_000 })
      expect(await other.get(n, 'k')).toBeDefined() // other now believes generation 0
      await store.purge(n)
      expect(await other.get(n, 'k')).toBeUndefined()
      expect(await other.getMany(n, ['k', 'k'])).toEqual([undefined, undefined])
      // other's write lands in the new generation, where store reads it.
      await other.set(n, 'k', { data: bytes(2), freshMs: 10_000, keepMs: 10_000 })
      expect(Array.from((await store.get(n, 'k'))!.data!)).toEqual([2])
      const before = await raw.get(generationKey(n))
      await store.purge(n)
      await store.purge(n)
      await other.delete(n, 'k') // deletes in the current generation, not a stale one
      const after = await raw.get(generationKey(n))
      expect(BigInt(after!)).toBeGreaterThanOrEqual(BigInt(before!) + 2n)
      expect(await raw.exists(`${PREFIX}{${n}:k}:${after}`)).toBe(1)
    })

    it('purges in O(1): one new generation, old records left to their own expiry', async () => {
      const n = ns()
      await store.setMany(
        n,
        Array.from({ length: 50 }, (_, i) => [`k${i}`, { data: bytes(i), freshMs: 5_000, keepMs: 5_000 }] as const),
      )
      const old = await valueKey(n, 'k0')
      await store.purge(n)
      expect(await raw.exists(old)).toBe(1)
      expect(await raw.pttl(old)).toBeGreaterThan(0)
      expect(await store.get(n, 'k0')).toBeUndefined()
    })

    // Found by the faults suite (maxmemory + allkeys-lru): an evicted generation key read as '0' again.
    it('an evicted generation key does not bring back records a purge made unreachable', async () => {
      const n = ns()
      await store.set(n, 'k', { data: bytes(1), freshMs: 10_000, keepMs: 10_000 })
      await store.purge(n)
      await raw.del(generationKey(n)) // what an allkeys-* policy may do at any time
      expect(await other.get(n, 'k')).toBeUndefined()
      expect(await store.get(n, 'k')).toBeUndefined()
    })

    it('a purge after an evicted generation key does not come back to a generation already used', async () => {
      const n = ns()
      await store.set(n, 'k', { data: bytes(1), freshMs: 10_000, keepMs: 10_000 })
      await store.purge(n)
      await store.set(n, 'k', { data: bytes(2), freshMs: 10_000, keepMs: 10_000 })
      await raw.del(generationKey(n))
      await store.set(n, 'k', { data: bytes(3), freshMs: 10_000, keepMs: 10_000 })
      await store.purge(n)
      // Counting up again from 0 would have reached the generation that holds 2.
      expect(await other.get(n, 'k')).toBeUndefined()
      await store.purge(n)
      expect(await other.get(n, 'k')).toBeUndefined()
    })
  })

  describe('malformed bytes', () => {
    it('reads bytes written by hand as a miss and reports a DecodeError, never throws', async () => {
      const n = ns()
      const errors: unknown[] = []
      const listener = (error: unknown) => errors.push(error)
      store.on('error', listener)
      try {
        expect(await store.get(n, 'text')).toBeUndefined() // the namespace gets its generation
        errors.length = 0
        await raw.set(await valueKey(n, 'text'), 'hello, not a record')
        await raw.hset(await valueKey(n, 'hash'), 'field', 'value')
        expect(await store.get(n, 'text')).toBeUndefined()
        expect(await store.getMany(n, ['hash', 'text'])).toEqual([undefined, undefined])
        expect(errors).toHaveLength(3)
        expect(errors[0]).toBeInstanceOf(DecodeError)
        expect((errors[0] as DecodeError).key).toBe('text')
        expect((errors[1] as DecodeError).key).toBe('hash')
        // A write replaces whatever was there.
        await store.set(n, 'hash', { data: bytes(5), freshMs: 5_000, keepMs: 5_000 })
        expect(Array.from((await store.get(n, 'hash'))!.data!)).toEqual([5])
      } finally {
        store.off('error', listener)
      }
    })
  })

  describe('bad input', () => {
    // Found in review: on a client created with stringNumbers, every conditional write read as refused
    // (the script's 1 came back as '1') and PTTLs came back as strings.
    it('rejects a client that turns numbers into strings (stringNumbers), naming it', () => {
      const client = new Redis({ host: '127.0.0.1', port: 6379, stringNumbers: true, lazyConnect: true })
      expect(() => new RedisStore({ client })).toThrow(TypeError)
      expect(() => new RedisStore({ client })).toThrow(/options\.client \(created with stringNumbers: true\)/)
      client.disconnect()
      expect(() => new RedisStore({ url: 'redis://127.0.0.1:6379', redis: { stringNumbers: true } })).toThrow(
        /options\.redis\.stringNumbers/,
      )
    })

    // Found in review: on a Cluster made with enableAutoPipelining, every read failed ("All keys in
    // the pipeline should belong to the same slots allocation group"), reported as a connection error.
    it('rejects a Cluster client that auto-pipelines (it refuses keys of several slots in one call), naming it', async () => {
      const cluster = new Cluster([{ host: '127.0.0.1', port: 7001 }], {
        enableAutoPipelining: true,
        lazyConnect: true,
      })
      expect(() => new RedisStore({ client: cluster })).toThrow(TypeError)
      expect(() => new RedisStore({ client: cluster })).toThrow(
        /options\.client \(a Cluster created with enableAutoPipelining: true\)/,
      )
      cluster.disconnect()
      const plain = new Cluster([{ host: '127.0.0.1', port: 7001 }], { lazyConnect: true })
      const accepted = new RedisStore({ client: plain })
      await accepted.close()
      plain.disconnect()
    })

    it('rejects with TypeError naming the argument', async () => {
      await expect(store.get('', 'k')).rejects.toThrow(/namespace/)
      await expect(store.set('n', 'k', { data: bytes(1), freshMs: 10, keepMs: 5 })).rejects.toThrow(/write.keepMs/)
      await expect(store.set('n', 'k', { data: 'x' as never, freshMs: 10, keepMs: 10 })).rejects.toThrow(/write.data/)
      await expect(store.getMany('n', 'k' as never)).rejects.toThrow(TypeError)
      await expect(store.lock.acquire('n', 'k', 0)).rejects.toThrow(/leaseMs/)
      await expect(store.lock.waitForRelease('n', 'k', -1)).rejects.toThrow(/timeoutMs/)
      expect(() => new RedisStore({} as never)).toThrow(/client or url/)
      expect(() => new RedisStore({ url: 'redis://x', prefix: 'a{b' })).toThrow(/prefix/)
      expect(() => new RedisStore({ client: store.client, commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/)
    })
  })

  describe('lock across connections', () => {
    it('wakes a waiter on another connection through the release message, not the backoff', async () => {
      const n = ns()
      const slow = new RedisStore({
        url: 'redis://127.0.0.1:6379',
        prefix: PREFIX,
        minRecheckMs: 5_000,
        maxRecheckMs: 5_000,
      })
      try {
        const token = await store.lock.acquire(n, 'k', 10_000)
        const started = performance.now()
        const waiting = slow.lock.waitForRelease(n, 'k', 4_000)
        await new Promise((resolve) => setTimeout(resolve, 150))
        await store.lock.release(n, 'k', token!)
        expect(await waiting).toBe(true)
        // The re-check would come at 5 s; only the message explains an early wake.
        expect(performance.now() - started).toBeLessThan(1_000)
      } finally {
        await slow.close()
      }
    })

    it('notices a crashed holder right after its lease ends', async () => {
      const n = ns()
      await raw.set(`${PREFIX}{${n}:k}:lock`, 'crashed-holder', 'PX', 300) // a holder that never releases
      const started = performance.now()
      expect(await other.lock.waitForRelease(n, 'k', 3_000)).toBe(true)
      const waited = performance.now() - started
      expect(waited).toBeGreaterThanOrEqual(250)
      expect(waited).toBeLessThan(800)
    })
  })
})

describe('RedisStore round trips (own server on 127.0.0.1:7010)', () => {
  let server: RedisServer
  let store: RedisStore
  beforeAll(async () => {
    server = await startRedisServer(7010)
    store = new RedisStore({ client: new Redis(server.port, '127.0.0.1') })
  })
  afterAll(async () => {
    await store.close()
    store.client.disconnect()
    await server.stop()
  })

  const calls = async () => {
    const stats = await redisCli(server.port, 'info', 'commandstats')
    const count = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
    return { evalsha: count('evalsha') + count('eval'), mget: count('mget') }
  }

  it('all waiters of a store share one subscriber connection, opened on the first wait', async () => {
    const subscribers = async () =>
      (await redisCli(server.port, 'client', 'list')).split('\n').filter((line) => / sub=[1-9]/.test(line)).length
    const n = ns()
    expect(await subscribers()).toBe(0)
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
    const tokens = await Promise.all(keys.map((key) => store.lock.acquire(n, key, 10_000)))
    const waits = keys.map((key) => store.lock.waitForRelease(n, key, 5_000))
    await sleep(100)
    expect(await subscribers()).toBe(1)
    await Promise.all(keys.map((key, i) => store.lock.release(n, key, tokens[i]!)))
    expect(await Promise.all(waits)).toEqual(keys.map(() => true))
  })

  it('get, getMany of 300 keys and setMany of 300 are one command each', async () => {
    const n = ns()
    // Scripts are sent in full once per connection, then by SHA.
    await store.get(n, 'warm-up')
    await store.setMany(n, [['warm-up', { data: bytes(1), freshMs: 5, keepMs: 5 }]])
    const before = await calls()
    const sent = vi.spyOn(store.client, 'sendCommand')
    await store.setMany(
      n,
      Array.from(
        { length: 300 },
        (_, i) => [`k${i}`, { data: bytes(i & 0xff), freshMs: 5_000, keepMs: 5_000 }] as const,
      ),
    )
    const records = await store.getMany(
      n,
      Array.from({ length: 300 }, (_, i) => `k${i}`),
    )
    await store.get(n, 'k1')
    const after = await calls()
    // The client sent three commands (no separate GET of the generation, no PTTL)...
    expect(sent.mock.calls.map(([command]) => (command as { name: string }).name)).toEqual(['evalsha', 'mget', 'mget'])
    sent.mockRestore()
    // ...and the server ran one script (the writes) and two MGETs (the generation and the values:
    // each record carries its expiry, read from the write's stamp).
    expect(after.evalsha - before.evalsha).toBe(1)
    expect(after.mget - before.mget).toBe(2)
    expect(records.filter(Boolean)).toHaveLength(300)
  })
})
