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
