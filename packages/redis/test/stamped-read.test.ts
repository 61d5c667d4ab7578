import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type RedisServer, redisCli, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { BoundedSet } from '../src/bounded-set.js'
import { RedisStore } from '../src/index.js'
import { ServerClock } from '../src/server-clock.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const bytes = (...values: number[]) => Uint8Array.from(values)

// Issue 15: a hit at one call in flight waited for the read script's fixed cost in Redis (several
// µs, against about one for a plain command). One key is now read with MGET of the generation and
// the value, the record's expiry taken from a stamp its write put in it (Redis's TIME + PX), and
// Redis's time over-estimated from the last script reply. Nothing may read fresher than PTTL says.
describe('one key read without a script (own server on 127.0.0.1:7014)', () => {
  let server: RedisServer
  let raw: Redis
  let store: RedisStore
  let other: RedisStore
  let run = 0
  const ns = () => `stamped-${++run}`
  const valueKey = async (n: string, key: string) => `t:{${n}:${key}}:${await raw.get(`t:{${n}}:gen`)}`
  const calls = async () => {
    const stats = await redisCli(server.port, 'info', 'commandstats')
    const count = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
    return { scripts: count('evalsha') + count('eval'), mget: count('mget') }
  }
  /** What `read` sent to Redis: scripts and MGETs run by the server during it. */
  const counted = async <T>(read: () => Promise<T>) => {
    const before = await calls()
    const result = await read()
    const after = await calls()
    return { result, scripts: after.scripts - before.scripts, mget: after.mget - before.mget }
  }

  beforeAll(async () => {
    server = await startRedisServer(7014)
    raw = new Redis({ host: '127.0.0.1', port: server.port })
    store = new RedisStore({ url: server.url, prefix: 't:' })
    other = new RedisStore({ url: server.url, prefix: 't:' })
  })
  afterAll(async () => {
    await store?.close()
    await other?.close()
    raw?.disconnect()
    await server?.stop()
  })

  it('stamps each record with the instant Redis removes its key (PEXPIRETIME), at its write and at a touch', async () => {
    const n = ns()
    await store.set(n, 'k', { data: bytes(1), freshMs: 10_000, keepMs: 30_000 })
    const key = await valueKey(n, 'k')
    const stampOf = async () => (await raw.getBuffer(key))!.readDoubleBE(24)
    const expiresAt = async () => Number(await raw.call('PEXPIRETIME', key))
    expect(await stampOf()).toBe(await expiresAt())
    const read = await store.read(n, 'k')
    const touched = await store.touch(n, 'k', { freshMs: 50_000, keepMs: 90_000, ifVersion: read.version })
    expect(touched.applied).toBe(true)
    expect(await stampOf()).toBe(await expiresAt())
    expect((await store.get(n, 'k'))!.freshMs).toBeGreaterThan(49_000)
  })

  it('reads a hit with one MGET and no script, never fresher or kept longer than PTTL says', async () => {
    const n = ns()
    await store.set(n, 'k', { data: bytes(7), freshMs: 10_000, keepMs: 30_000, staleMs: 20_000 })
    await store.get(n, 'k')
    const key = await valueKey(n, 'k')
    const pttlBefore = await raw.pttl(key)
    const { result, scripts, mget } = await counted(() => store.read(n, 'k'))
    expect({ scripts, mget }).toEqual({ scripts: 0, mget: 1 })
    const pttlAfter = await raw.pttl(key)
    const record = result.record!
    expect(Array.from(record.data!)).toEqual([7])
    expect(record.staleMs).toBe(20_000)
    // Never more than PTTL said before the read; no more than a few ms under what it said after.
    expect(record.keepMs).toBeLessThanOrEqual(pttlBefore)
    expect(record.keepMs).toBeGreaterThanOrEqual(pttlAfter - 20)
    expect(record.keepMs - record.freshMs).toBe(20_000)
    // Its version is one a conditional write accepts.
    const written = await store.set(n, 'k', {
      data: bytes(8),
      freshMs: 1_000,
      keepMs: 1_000,
      ifVersion: result.version,
    })
    expect(written.applied).toBe(true)
  })

  it("sees another store's purge at once: the generation comes in the same MGET", async () => {
    const n = ns()
    await store.set(n, 'k', { data: bytes(1), freshMs: 60_000, keepMs: 60_000 })
    expect((await counted(() => store.get(n, 'k'))).mget).toBe(1)
    await other.purge(n)
    const { result, scripts } = await counted(() => store.get(n, 'k'))
    expect(result).toBeUndefined()
    expect(scripts).toBeGreaterThan(0) // the script learnt the new generation
    await other.set(n, 'k', { data: bytes(2), freshMs: 60_000, keepMs: 60_000 })
    const again = await counted(() => store.get(n, 'k'))
    expect(Array.from(again.result!.data!)).toEqual([2])
    expect(again).toMatchObject({ scripts: 0, mget: 1 })
  })

  it('reads through the script what carries no stamp: a record of an earlier release, a tombstone, an absent key', async () => {
    const n = ns()
    await store.set(n, 'old', { data: bytes(1), freshMs: 60_000, keepMs: 60_000 })
    const key = await valueKey(n, 'old')
    // The record as an earlier release wrote it: magic 0xcb and no stamp (bytes 24-31).
    const stored = (await raw.getBuffer(key))!
    const earlier = Buffer.concat([stored.subarray(0, 24), stored.subarray(32)])
    earlier[0] = 0xcb
    await raw.set(key, earlier, 'PX', 60_000)
    const old = await counted(() => store.get(n, 'old'))
    expect(Array.from(old.result!.data!)).toEqual([1])
    expect(old.result!.freshMs).toBeGreaterThan(59_000)
    expect(old).toMatchObject({ scripts: 1, mget: 1 })
    await store.delete(n, 'old')
    expect(await counted(() => store.get(n, 'old'))).toMatchObject({ result: undefined, scripts: 1, mget: 1 })
    expect(await counted(() => store.get(n, 'absent'))).toMatchObject({ result: undefined, scripts: 1, mget: 1 })
  })

  // Found in review: any positive stamp was believed, so a 0xCC record whose stamp said 1e308 (or
  // Infinity: bytes written by hand, or damaged) read as kept and fresh for 1e308 ms, where its
  // PTTL said 5 s. No write stamps further ahead than the longest PX the store gives (ten years).
  it('reads through the script a stamp further ahead than any PX the store gives', async () => {
    const n = ns()
    await store.set(n, 'k', { data: bytes(1), freshMs: 60_000, keepMs: 60_000 })
    await store.get(n, 'k')
    const key = await valueKey(n, 'k')
    const stored = (await raw.getBuffer(key))!
    for (const stamp of [Number.MAX_VALUE, Number.POSITIVE_INFINITY]) {
      stored.writeDoubleBE(stamp, 24)
      await raw.set(key, stored, 'PX', 5_000)
      const { result, scripts } = await counted(() => store.get(n, 'k'))
      expect(scripts).toBe(1)
      expect(result!.keepMs).toBeLessThanOrEqual(5_000)
      expect(result!.freshMs).toBeLessThanOrEqual(5_000)
    }
  })

  it('reads through the script when its reading of Redis’s clock is over a second old, and renews it so', async () => {
    const n = ns()
    await store.set(n, 'k', { data: bytes(1), freshMs: 60_000, keepMs: 60_000 })
    await store.get(n, 'k')
    await sleep(1_100)
    const first = await counted(() => store.get(n, 'k'))
    expect(first).toMatchObject({ scripts: 1, mget: 0 })
    const next = await counted(() => store.get(n, 'k'))
    expect(next).toMatchObject({ scripts: 0, mget: 1 })
    expect(next.result!.keepMs).toBeLessThanOrEqual(first.result!.keepMs)
  })
})

// getMany of 100 hits ran at 0.87× the rate of 100 single gets once those took MGET: every key
// of a batch went through the read script. A batch now takes one MGET of the generation and every
// value, and the script only for the keys MGET cannot answer, with the same checks as one key.
describe('many keys read with one MGET (own server on 127.0.0.1:7015)', () => {
  let server: RedisServer
  let raw: Redis
  let store: RedisStore
  let other: RedisStore
  let run = 0
  const ns = () => `stamped-many-${++run}`
  const valueKey = async (n: string, key: string) => `t:{${n}:${key}}:${await raw.get(`t:{${n}}:gen`)}`
  const calls = async () => {
    const stats = await redisCli(server.port, 'info', 'commandstats')
    const count = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
    return { scripts: count('evalsha') + count('eval'), mget: count('mget') }
  }
  const counted = async <T>(read: () => Promise<T>) => {
    const before = await calls()
    const result = await read()
    const after = await calls()
    return { result, scripts: after.scripts - before.scripts, mget: after.mget - before.mget }
  }
  const data = (record: { data?: Uint8Array } | undefined) => (record?.data ? Array.from(record.data) : undefined)

  beforeAll(async () => {
    server = await startRedisServer(7015)
    raw = new Redis({ host: '127.0.0.1', port: server.port })
    store = new RedisStore({ url: server.url, prefix: 't:' })
    other = new RedisStore({ url: server.url, prefix: 't:' })
  })
  afterAll(async () => {
    await store?.close()
    await other?.close()
    raw?.disconnect()
    await server?.stop()
  })

  it('reads a batch of hits with one MGET and no script, never fresher than PTTL says, with versions a conditional write accepts', async () => {
    const n = ns()
    const keys = ['a', 'b', 'c']
    for (const [i, key] of keys.entries()) {
      await store.set(n, key, { data: bytes(i), freshMs: 10_000 + i, keepMs: 30_000, staleMs: 20_000 - i })
    }
    await store.get(n, 'a') // a reading of Redis's clock
    const pttls = await Promise.all(keys.map(async (key) => raw.pttl(await valueKey(n, key))))
    const { result, scripts, mget } = await counted(() => store.readMany(n, keys))
    expect({ scripts, mget }).toEqual({ scripts: 0, mget: 1 })
    expect(result.map((read) => data(read.record))).toEqual([[0], [1], [2]])
    result.forEach((read, i) => {
      expect(read.record!.keepMs).toBeLessThanOrEqual(pttls[i]!)
      expect(read.record!.keepMs).toBeGreaterThanOrEqual(pttls[i]! - 1_000)
      expect(read.record!.keepMs - read.record!.freshMs).toBe(20_000 - i)
    })
    for (const [i, key] of keys.entries()) {
      const written = await store.set(n, key, {
        data: bytes(9),
        freshMs: 1_000,
        keepMs: 1_000,
        ifVersion: result[i]!.version,
      })
      expect(written.applied).toBe(true)
    }
    // A version read before a newer write is refused, as a script read's is.
    const stale = await store.set(n, 'a', {
      data: bytes(8),
      freshMs: 1_000,
      keepMs: 1_000,
      ifVersion: result[0]!.version,
    })
    expect(stale.applied).toBe(false)
  })

  it('reads through the script only what MGET cannot answer (absent, tombstone, unstamped), each as one key reads it', async () => {
    const n = ns()
    await store.set(n, 'hit', { data: bytes(1), freshMs: 60_000, keepMs: 60_000 })
    await store.set(n, 'old', { data: bytes(2), freshMs: 60_000, keepMs: 60_000 })
    await store.set(n, 'gone', { data: bytes(3), freshMs: 60_000, keepMs: 60_000 })
    await store.delete(n, 'gone')
    const key = await valueKey(n, 'old')
    const stored = (await raw.getBuffer(key))!
    const earlier = Buffer.concat([stored.subarray(0, 24), stored.subarray(32)])
    earlier[0] = 0xcb
    await raw.set(key, earlier, 'PX', 60_000)
    await store.get(n, 'hit')
    const keys = ['hit', 'old', 'gone', 'absent', 'hit']
    const { result, scripts, mget } = await counted(() => store.readMany(n, keys))
    expect({ scripts, mget }).toEqual({ scripts: 1, mget: 1 })
    expect(result.map((read) => data(read.record))).toEqual([[1], [2], undefined, undefined, [1]])
    // The same answers one key at a time.
    const single = await Promise.all(keys.map((k) => other.read(n, k)))
    expect(single.map((read) => data(read.record))).toEqual([[1], [2], undefined, undefined, [1]])
    expect(result[1]!.record!.freshMs).toBeLessThanOrEqual(60_000)
    // The absent key's version guards a conditional write as the script's does.
    expect(
      (await store.set(n, 'absent', { data: bytes(4), freshMs: 1_000, keepMs: 1_000, ifVersion: result[3]!.version }))
        .applied,
    ).toBe(true)
  })

  it("sees another store's purge in the same MGET and reads the batch through the script, which learns the generation", async () => {
    const n = ns()
    await store.set(n, 'a', { data: bytes(1), freshMs: 60_000, keepMs: 60_000 })
    await store.set(n, 'b', { data: bytes(2), freshMs: 60_000, keepMs: 60_000 })
    expect((await counted(() => store.readMany(n, ['a', 'b']))).scripts).toBe(0)
    await other.purge(n)
    await other.set(n, 'b', { data: bytes(3), freshMs: 60_000, keepMs: 60_000 })
    const after = await counted(() => store.readMany(n, ['a', 'b']))
    expect(after.result.map((read) => data(read.record))).toEqual([undefined, [3]])
    expect(after.scripts).toBeGreaterThan(0)
    const again = await counted(() => store.readMany(n, ['a', 'b']))
    expect(again).toMatchObject({ scripts: 1, mget: 1 }) // 'a' is absent: the script says so
    expect(again.result.map((read) => data(read.record))).toEqual([undefined, [3]])
  })

  it('reads a batch through the script when its reading of Redis’s clock is over a second old, and renews it so', async () => {
    const n = ns()
    const keys = ['a', 'b']
    for (const key of keys) await store.set(n, key, { data: bytes(1), freshMs: 60_000, keepMs: 60_000 })
    await store.readMany(n, keys)
    await sleep(1_100)
    const first = await counted(() => store.readMany(n, keys))
    expect(first).toMatchObject({ scripts: 1, mget: 0 })
    const next = await counted(() => store.readMany(n, keys))
    expect(next).toMatchObject({ scripts: 0, mget: 1 })
    expect(next.result[0]!.record!.keepMs).toBeLessThanOrEqual(first.result[0]!.record!.keepMs)
  })

  it('answers every batch as the last write, delete, touch or purge left each key, whichever store made it (model-based)', async () => {
    const names = ['a', 'b', 'c', 'd']
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        key: fc.constantFrom(...names),
        value: fc.nat(255),
        mine: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...names), mine: fc.boolean() }),
      fc.record({ kind: fc.constant('touch' as const), key: fc.constantFrom(...names) }),
      fc.record({ kind: fc.constant('purge' as const), mine: fc.boolean() }),
      fc.record({
        kind: fc.constant('read' as const),
        keys: fc.array(fc.constantFrom(...names, 'never'), { minLength: 1, maxLength: 6 }),
      }),
    )
    let checked = 0
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 30 }), async (ops) => {
        const n = ns()
        const model = new Map<string, number>()
        for (const o of ops) {
          if (o.kind === 'set') {
            await (o.mine ? store : other).set(n, o.key, { data: bytes(o.value), freshMs: 60_000, keepMs: 90_000 })
            model.set(o.key, o.value)
          } else if (o.kind === 'delete') {
            await (o.mine ? store : other).delete(n, o.key)
            model.delete(o.key)
          } else if (o.kind === 'touch') {
            const read = await other.read(n, o.key)
            if (read.record !== undefined) {
              await other.touch(n, o.key, { freshMs: 30_000, keepMs: 40_000, ifVersion: read.version })
            }
          } else if (o.kind === 'purge') {
            await (o.mine ? store : other).purge(n)
            model.clear()
          } else {
            const reads = await store.readMany(n, o.keys)
            expect(reads.map((read) => data(read.record))).toEqual(
              o.keys.map((k) => (model.has(k) ? [model.get(k)] : undefined)),
            )
            for (const read of reads)
              if (read.record !== undefined) expect(read.record.keepMs).toBeLessThanOrEqual(90_000)
            checked++
          }
        }
      }),
      { numRuns: 40 },
    )
    expect(checked).toBeGreaterThan(20)
  })

  it('reads a value over the read limit through the script, reports it once as too large, and sends it there from then on', async () => {
    const n = ns()
    const small = new RedisStore({ url: server.url, prefix: 't:', maxValueBytes: 64 })
    const errors: unknown[] = []
    small.on('error', (error) => errors.push(error))
    try {
      await store.set(n, 'big', { data: new Uint8Array(200).fill(7), freshMs: 60_000, keepMs: 60_000 })
      await store.set(n, 'ok', { data: bytes(1), freshMs: 60_000, keepMs: 60_000 })
      await small.get(n, 'ok')
      const first = await counted(() => small.readMany(n, ['big', 'ok']))
      expect(first.result.map((read) => data(read.record))).toEqual([undefined, [1]])
      expect(first).toMatchObject({ scripts: 1, mget: 1 })
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatchObject({ kind: 'too-large' })
      const second = await counted(() => small.readMany(n, ['big', 'ok']))
      expect(second).toMatchObject({ scripts: 1, mget: 1 }) // 'big' not asked of MGET again
    } finally {
      await small.close()
    }
  })
})

describe("ServerClock's over-estimate of Redis's time", () => {
  it('is the last reply sent with its send time, plus 1 ms for TIME flooring and 1 ms per second since', () => {
    let local = 1_000
    const clock = new ServerClock(() => local)
    expect(clock.latest(local, 1_000)).toBeUndefined()
    clock.observe(50_000, 1_010) // no send time: only the lower bound learns
    expect(clock.latest(1_010, 1_000)).toBeUndefined()
    // Sent at 1 000, answered at 1 010, Redis said 50 000 (it ran between the two).
    clock.observe(50_000, 1_010, 1_000)
    expect(clock.latest(1_010, 1_000)).toBe(50_011)
    // 500 ms later: 0.5 ms of drift allowance.
    expect(clock.latest(1_510, 1_000)).toBe(50_511.5)
    expect(clock.latest(2_011, 1_000)).toBeUndefined()
    // Never below the truth, whatever instant between send and answer Redis ran at.
    for (const ranAt of [1_000, 1_005, 1_010]) {
      const redisAt = (t: number) => 50_000 + (t - ranAt)
      expect(clock.latest(1_200, 1_000)!).toBeGreaterThanOrEqual(redisAt(1_200))
    }
    // The lower bound (deadlines, read instants) is unchanged: Redis's time at the answer.
    expect(clock.toRedis(1_010)).toBe(50_000)
    // A reconnection (maybe to another host) forgets the upper bound until a reply teaches it again.
    clock.forgetLatest()
    expect(clock.latest(1_020, 1_000)).toBeUndefined()
    clock.observe(60_000, 1_030, 1_020)
    expect(clock.latest(1_030, 1_000)).toBe(60_011)
    local = 0
  })

  it('is not believed after the host slept: the monotonic clock did not count the sleep, the wall clock did', () => {
    const clock = new ServerClock(() => 0)
    clock.observe(50_000, 1_010, 1_000)
    expect(clock.latest(1_010, 1_000)).toBe(50_011)
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(Date.now() + 10 * 60_000) // ten minutes asleep; the monotonic clock says 0 ms
      expect(clock.latest(1_010, 1_000)).toBeUndefined()
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('the keys a store remembers as too large', () => {
  it('are bounded: past the bound the oldest is forgotten (it is only read once more without a script)', () => {
    const set = new BoundedSet(3)
    for (const key of ['a', 'b', 'c', 'd']) set.add(key)
    expect(set.size).toBe(3)
    expect(['a', 'b', 'c', 'd'].map((key) => set.has(key))).toEqual([false, true, true, true])
  })
})
