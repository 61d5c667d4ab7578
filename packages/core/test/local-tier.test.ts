import { execFileSync } from 'node:child_process'
import { describe, expect, it, vi } from 'vitest'
import type { Entry } from '../src/entry.js'
import { TierCache } from '../src/index.js'
import { cacheWithClock, countingLoader } from './fixtures.js'

describe('L1 bounds', () => {
  it('a value larger than the whole byte bound is not kept in L1 at all', async () => {
    const cache = new TierCache<string>({ name: 'huge', lruMaxBytes: 100, sizeOf: (v) => v.length })
    await cache.set('small', 'x')
    await cache.set('huge', 'x'.repeat(1_000))
    expect(cache.peek('huge')).toBeUndefined()
    expect(cache.peek('small')?.value).toBe('x')
    expect(await cache.get('huge')).toBe('x'.repeat(1_000)) // from the store
  })

  it('evictions drop the entry behind the hot path too (no unbounded side map)', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    const tier = new LocalTier<number>({}, { now: () => 1_000 }, 10)
    for (let i = 0; i < 100; i++) {
      tier.set(`k${i}`, {
        value: i,
        staleAt: 2_000,
        staleUntil: 2_000,
        expiresAt: 2_000,
        cachedAt: 1_000,
        resurrected: false,
      })
    }
    expect(tier.size).toBe(10)
    expect(tier.entryCount).toBe(10)
    tier.delete('k99')
    tier.clear()
    expect(tier.entryCount).toBe(0)
  })

  it('the hot path serves a fresh entry until, and not at, its stale instant', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000 })
    const { loader, calls } = countingLoader((_, n) => `v${n}`)
    await cache.get('k', loader)
    clock.advance(999)
    expect(await cache.get('k', loader)).toBe('v1')
    clock.advance(1)
    expect(await cache.get('k', loader)).toBe('v2')
    expect(calls).toHaveLength(2)
  })
})

describe('L1 runs on a monotonic clock', () => {
  it('a backward step of the wall clock does not extend L1 entries', async () => {
    // The default (system) clock; the wall clock is stepped back by a minute once the value is cached.
    const cache = new TierCache<string>({ name: 'wall-step', ttl: 40 })
    await cache.set('k', 'v')
    const wall = Date.now()
    const stepped = vi.spyOn(Date, 'now').mockImplementation(() => wall - 60_000)
    try {
      await new Promise((resolve) => setTimeout(resolve, 80))
      expect(cache.peek('k')).toBeUndefined() // expired after its 40 ms, whatever the wall clock says
      expect((await cache.getWithInfo('k', async () => 'reloaded')).value).toBe('reloaded')
    } finally {
      stepped.mockRestore()
    }
  })
})

describe('LocalTier as its own LRU (issue 15: one slot per entry instead of an lru-cache entry, a promise and an entry object)', () => {
  const entry = (value: number | undefined, more: Partial<Entry<number>> = {}): Entry<number> => ({
    value,
    staleAt: 2_000,
    staleUntil: 3_000,
    expiresAt: 4_000,
    cachedAt: 1_000,
    resurrected: false,
    refreshAt: Number.POSITIVE_INFINITY,
    meta: undefined,
    tags: undefined,
    ...more,
  })

  it('evicts the least recently used: a hit makes an entry recent, a slow-path read does not', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    const tier = new LocalTier<number>({}, { now: () => 1_000 }, 3)
    for (const k of ['a', 'b', 'c']) tier.set(k, entry(1))
    tier.hit('a') // a is now the most recent
    tier.get('b') // the slow path's look does not count as a use
    tier.set('d', entry(4))
    expect(['a', 'b', 'c', 'd'].map((k) => tier.get(k) !== undefined)).toEqual([true, false, true, true])
    tier.delete('c')
    tier.set('e', entry(5)) // reuses the freed slot, evicts nothing
    expect(['a', 'd', 'e'].map((k) => tier.get(k)?.value)).toEqual([1, 4, 5])
    expect(tier.size).toBe(3)
  })

  it('keeps the byte bound, evicting the oldest, and refuses a value larger than the bound', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    const tier = new LocalTier<number>({ lruMaxBytes: 10, sizeOf: (v) => v }, { now: () => 1_000 }, undefined)
    tier.set('a', entry(4))
    tier.set('b', entry(4))
    tier.set('c', entry(4)) // 12 > 10: a goes
    expect(['a', 'b', 'c'].map((k) => tier.get(k) !== undefined)).toEqual([false, true, true])
    tier.set('b', entry(11)) // larger than the whole bound: not kept, nor its older copy
    expect(tier.get('b')).toBeUndefined()
    expect(tier.get('c')?.value).toBe(4)
    for (let i = 0; i < 100; i++) tier.set(`k${i}`, entry(1))
    expect(tier.size).toBe(10)
  })

  it('serves on the hot path only a plain entry before its stale and refresh-ahead instants; the slow path gets every field back', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    let now = 1_000
    const tier = new LocalTier<number>({}, { now: () => now }, 10)
    const tags = { tags: ['t'], at: 3 }
    tier.set('plain', entry(1, { meta: { etag: 'x' } }))
    tier.set('ahead', entry(2, { refreshAt: 1_500 }))
    tier.set('resurrected', entry(3, { resurrected: true }))
    tier.set('tagged', entry(4, { tags }))
    expect(await tier.hit('plain')).toBe(1)
    expect(tier.hit('plain')).toBe(tier.hit('plain')) // the same settled promise: a hit allocates nothing
    expect(await tier.hit('ahead')).toBe(2)
    expect(tier.hit('resurrected')).toBeUndefined()
    expect(tier.hit('tagged')).toBeUndefined()
    now = 1_500
    expect(tier.hit('ahead')).toBeUndefined()
    expect(tier.freshValue('plain')).toBe(1)
    now = 2_000
    expect(tier.hit('plain')).toBeUndefined()
    expect(tier.get('plain')).toEqual(entry(1, { meta: { etag: 'x' } }))
    expect(tier.get('ahead')).toEqual(entry(2, { refreshAt: 1_500 }))
    expect(tier.get('resurrected')).toEqual(entry(3, { resurrected: true }))
    expect(tier.get('tagged')).toEqual(entry(4, { tags }))
    tier.set('plain', entry(9))
    now = 1_000
    expect(await tier.hit('plain')).toBe(9) // a new value, a new settled promise
  })
})

describe('LocalTier times: two doubles and two Int32 offsets per slot, every instant read back exactly', () => {
  const DAY = 86_400_000
  const entry = (staleAt: number, staleUntil: number, expiresAt: number, cachedAt: number): Entry<number> => ({
    value: 1,
    staleAt,
    staleUntil,
    expiresAt,
    cachedAt,
    resurrected: false,
    refreshAt: Number.POSITIVE_INFINITY,
    meta: undefined,
    tags: undefined,
  })

  it('keeps whole-ms windows as offsets: jittered (fractional) instants, ttl 0 (Infinity), a resurrect window forever', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    const tier = new LocalTier<number>({}, { now: () => 1_000.25 }, 10)
    const cases = {
      jittered: entry(1_764_000_012_345.678, 1_764_000_017_345.678, 1_764_000_022_345.678, 1_764_000_000_000.5),
      never: entry(Infinity, Infinity, Infinity, 1_000.25),
      foreverKept: entry(2_000, 2_500, Infinity, 1_000),
      longWindow: entry(2_000, 2_000 + 20 * DAY, 2_000 + 24 * DAY, 1_000),
      ahead: { ...entry(2_000.5, 3_000.5, 4_000.5, 1_000), refreshAt: 1_800.125 },
    }
    for (const [k, e] of Object.entries(cases)) tier.set(k, e)
    for (const [k, e] of Object.entries(cases)) expect(tier.get(k)).toEqual(e)
    expect(tier.wide).toBe(false)
    expect(await tier.hit('jittered')).toBe(1)
  })

  it('a window no offset holds (fractional, or longer than 24 days) turns the tier to doubles, every entry intact', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    const tier = new LocalTier<number>({}, { now: () => 1_000 }, 100)
    const before = Array.from({ length: 20 }, (_, i) => entry(2_000 + i, 3_000 + i, i % 2 ? Infinity : 4_000, 1_000))
    for (const [i, e] of before.entries()) tier.set(`k${i}`, e)
    tier.delete('k3')
    const odd = entry(2_000, 2_000.5, 30 * DAY, 1_000)
    tier.set('odd', odd)
    expect(tier.wide).toBe(true)
    expect(tier.get('odd')).toEqual(odd)
    for (const [i, e] of before.entries()) expect(tier.get(`k${i}`)).toEqual(i === 3 ? undefined : e)
    for (let i = 20; i < 200; i++) tier.set(`k${i}`, entry(5_000, 6_000.25, 7_000, 1_000)) // grows while wide
    expect(tier.get('k199')).toEqual(entry(5_000, 6_000.25, 7_000, 1_000))
    tier.clear()
    tier.set('a', entry(2_000, 3_000, 4_000, 1_000))
    expect(tier.wide).toBe(false)
  })

  it('the arrays grow by half up to the entry bound, so a full tier holds no slack (a deterministic layout check)', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    const full = new LocalTier<number>({}, { now: () => 1_000 }, 100_000)
    for (let i = 0; i < 100_000; i++) full.set(`k${i}`, entry(2_000, 2_000, 2_000, 1_000))
    expect(full.capacity).toBe(100_000)
    const roomy = new LocalTier<number>({}, { now: () => 1_000 }, 16_384)
    for (let i = 0; i < 10_000; i++) roomy.set(`k${i}`, entry(2_000, 2_000, 2_000, 1_000))
    expect(roomy.capacity).toBeGreaterThanOrEqual(10_000)
    expect(roomy.capacity).toBeLessThanOrEqual(15_000) // doubling would have left 16,384 slots
  })

  it('holds at most 100 B per entry beyond key and value, 140 B once hit (100k entries, weighed in a fresh process)', () => {
    // The built package (`pnpm test` builds first), in a child with --expose-gc: weighed after two full
    // GCs, with keys and value made before the baseline. Measured 92 and 133 B on Node 20 (64-bit, no
    // pointer compression); the old layout (four doubles per slot) weighed 105 and 145.
    const dist = new URL('../dist/local-tier.js', import.meta.url).href
    const weigh = `
      const { LocalTier } = await import(${JSON.stringify(dist)})
      const n = 100_000, value = { v: 1 }, keys = Array.from({ length: n }, (_, i) => 'key:' + i)
      const e = { value, staleAt: 2e12, staleUntil: 2e12, expiresAt: 2e12, cachedAt: 1e12, resurrected: false,
        refreshAt: Infinity, meta: undefined, tags: undefined }
      const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers }
      const before = heap()
      const tier = new LocalTier({}, { now: () => 1e12 }, n)
      for (const k of keys) tier.set(k, e)
      const filled = heap()
      for (const k of keys) tier.hit(k)
      const hit = heap()
      console.log(JSON.stringify({ filled: (filled - before) / n, hit: (hit - before) / n, size: tier.size }))`
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', weigh], {
      encoding: 'utf8',
    })
    const bytes = JSON.parse(out) as { filled: number; hit: number; size: number }
    expect(bytes.size).toBe(100_000)
    expect(bytes.filled).toBeLessThanOrEqual(100)
    expect(bytes.hit).toBeLessThanOrEqual(140)
  })
})

describe('sizeOf is checked (a size that is not a number would end the byte bound)', () => {
  it('a sizeOf that returns NaN once is refused with a TypeError naming it, and L1 stays within lruMaxBytes', async () => {
    // Seen: one NaN made L1's running total NaN, `NaN > lruMaxBytes` never evicted again, and L1 grew
    // to 1,001 entries of 10 "bytes" under a bound of 100.
    const cache = new TierCache<string>({
      name: 'nan-size',
      lruMaxBytes: 100,
      sizeOf: (v) => (v === 'bad' ? Number.NaN : v.length),
    })
    await expect(cache.set('bad', 'bad')).rejects.toThrow(
      new TypeError('options.sizeOf must return a number >= 0, got NaN for key "bad"'),
    )
    for (let i = 0; i < 1_000; i++) await cache.set(`k${i}`, 'x'.repeat(10))
    expect(cache.stats().l1Size).toBe(10)
  })

  it('a value whose sizeOf throws or is refused does not leave the older copy of its key in L1', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    const tier = new LocalTier<number>(
      {
        lruMaxBytes: 100,
        sizeOf: (v) => {
          if (v === 4) throw new Error('sizeOf failed')
          return v === 2 ? Number.NaN : v === 3 ? -1 : v
        },
      },
      { now: () => 1_000 },
      undefined,
    )
    const entry = (value: number): Entry<number> => ({
      value,
      staleAt: 2_000,
      staleUntil: 2_000,
      expiresAt: 2_000,
      cachedAt: 1_000,
      resurrected: false,
      refreshAt: Number.POSITIVE_INFINITY,
      meta: undefined,
      tags: undefined,
    })
    for (const bad of [2, 3, 4]) {
      tier.set('k', entry(1))
      expect(() => tier.set('k', entry(bad))).toThrow(bad === 4 ? 'sizeOf failed' : TypeError)
      expect(tier.get('k')).toBeUndefined()
      expect(tier.size).toBe(0)
    }
  })

  it('a sizeOf without lruMaxBytes is refused, as lru-cache refuses a sizeCalculation without maxSize (it would be ignored)', () => {
    expect(() => new TierCache<string>({ sizeOf: (v) => v.length })).toThrow(
      new TypeError('options.sizeOf is only used with options.lruMaxBytes: set lruMaxBytes, or remove sizeOf'),
    )
    expect(() => new TierCache<string>({ lruSize: 10, sizeOf: (v) => v.length })).toThrow(TypeError)
    expect(() => new TierCache<string>({ lruMaxBytes: 100, sizeOf: (v) => v.length })).not.toThrow()
  })
})
