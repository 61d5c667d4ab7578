import { describe, expect, it } from 'vitest'
import { BACKOFF_MAX_KEYS, Backoff, backoffPolicy } from '../src/backoff.js'
import { TierCache } from '../src/index.js'
import { cacheWithClock, countingLoader, ManualClock, tick, until } from './fixtures.js'

/** Reads until the failing loader has been called `n` times in all (a refresh runs in the background). */
async function attempts(cache: TierCache<string>, loader: () => Promise<string>, calls: string[], n: number) {
  expect(await cache.get('k', loader)).toBe('v')
  await until(() => calls.length === n)
  await tick()
}

describe('refreshBackoff', () => {
  it('waits initial, then factor times longer per failure in a row, up to max', async () => {
    const { cache, clock } = cacheWithClock<string>({
      ttl: 1_000,
      staleTtl: '1h',
      refreshBackoff: { initial: '1s', max: '5s', factor: 2, jitter: 0 },
    })
    const { loader, calls, fail } = countingLoader(() => 'v')
    await cache.get('k', loader)
    fail()
    cache.on('error', () => {})
    clock.advance(1_000)
    await attempts(cache, loader, calls, 2) // first failure: wait 1 s
    for (const waitMs of [1_000, 2_000, 4_000, 5_000, 5_000]) {
      const before = calls.length
      clock.advance(waitMs - 1)
      await cache.get('k', loader)
      await tick()
      expect(calls.length, `no attempt before ${waitMs} ms`).toBe(before)
      clock.advance(1)
      await attempts(cache, loader, calls, before + 1)
    }
    expect(calls).toHaveLength(7)
  })

  it('a success starts the key over at initial', async () => {
    const { cache, clock } = cacheWithClock<string>({
      ttl: 1_000,
      staleTtl: '1h',
      refreshBackoff: { initial: 100, max: 10_000, factor: 10, jitter: 0 },
    })
    const { loader, calls, fail, recover } = countingLoader(() => 'v')
    cache.on('error', () => {})
    await cache.get('k', loader)
    fail()
    clock.advance(1_000)
    await attempts(cache, loader, calls, 2) // waits 100
    clock.advance(100)
    await attempts(cache, loader, calls, 3) // waits 1 000
    clock.advance(1_000)
    recover()
    await attempts(cache, loader, calls, 4) // lands
    fail()
    clock.advance(1_000)
    await attempts(cache, loader, calls, 5) // fails: waits 100 again, not 10 000
    clock.advance(100)
    await attempts(cache, loader, calls, 6)
  })

  it('spreads each grown wait by ±jitter, never past max', () => {
    const clock = new ManualClock()
    const policy = backoffPolicy({ initial: 1_000, max: 3_000, factor: 2, jitter: 0.25 }, undefined)
    const waits = (random: number) => {
      const b = new Backoff(policy, clock, () => random)
      return [1, 2, 3, 4].map(() => b.failed('k'))
    }
    expect(waits(0)).toEqual([1_000, 1_500, 2_250, 2_250])
    expect(waits(0.5)).toEqual([1_000, 2_000, 3_000, 3_000])
    expect(waits(0.999_999).map(Math.round)).toEqual([1_000, 2_500, 3_000, 3_000])
  })

  it('re-arms a resurrected value for the wait, from resurrectTtl up, in L1 and the store', async () => {
    const { cache, clock, store } = cacheWithClock<string>({
      ttl: 1_000,
      resurrectTtl: 500,
      refreshBackoff: { initial: '1s', max: '4s', factor: 2, jitter: 0 },
    })
    const { loader, calls, fail } = countingLoader(() => 'v')
    cache.on('error', () => {})
    await cache.get('k', loader)
    fail()
    for (const [i, waitMs] of [500, 1_000, 2_000, 4_000, 4_000].entries()) {
      clock.advance(cache.peek('k')!.ttlRemaining)
      const got = await cache.getWithInfo('k', loader)
      expect(got).toMatchObject({ value: 'v', reason: 'resurrected' })
      expect(calls).toHaveLength(i + 2)
      expect(cache.peek('k')?.ttlRemaining).toBe(waitMs)
      expect((await store.get('test', 'k'))?.freshMs).toBe(waitMs)
    }
  })

  // Found by the model test (seed -1382115514): a set over a resurrected value left the resurrection's
  // wait in place, so the new value went stale and was served for 150 ms with no refresh.
  it('a set starts the key over: the wait of the value it replaced does not hold up its refresh', async () => {
    const { cache, clock } = cacheWithClock<string>({
      ttl: 100,
      staleTtl: 300,
      resurrectTtl: 250,
      refreshBackoff: { initial: 50, factor: 1, jitter: 0 },
    })
    const { loader, calls, fail, recover } = countingLoader((_key, call) => `v${call}`)
    cache.on('error', () => {})
    await cache.get('k', loader)
    fail()
    clock.advance(150)
    expect(await cache.get('k', loader)).toBe('v1')
    await until(() => calls.length === 2)
    await until(() => cache.peek('k')?.ttlRemaining === 250) // the refresh failed: resurrected, waits 250
    await cache.set('k', 'set')
    recover()
    clock.advance(100) // the set value is stale; the old wait would last 150 more
    expect(await cache.getWithInfo('k', loader)).toMatchObject({ value: 'set', stale: true })
    await until(() => calls.length === 3)
    await until(() => cache.peek('k')?.value === 'v3')
  })

  it('a refresh that fails after a set of its key leaves no wait behind', async () => {
    const { cache, clock } = cacheWithClock<string>({
      ttl: 100,
      staleTtl: 1_000,
      refreshBackoff: { initial: 500, factor: 1, jitter: 0 },
    })
    let release: () => void = () => {}
    let calls = 0
    const loader = async () => {
      calls++
      if (calls === 1) return 'v1'
      if (calls === 2) {
        await new Promise<void>((resolve) => {
          release = resolve
        })
        throw new Error('origin down')
      }
      return `v${calls}`
    }
    cache.on('error', () => {})
    await cache.get('k', loader)
    clock.advance(100)
    expect(await cache.get('k', loader)).toBe('v1') // stale; the refresh's loader hangs
    await until(() => calls === 2)
    await cache.set('k', 'set')
    release() // the refresh fails after the set
    await tick()
    await tick()
    clock.advance(100) // the set value is stale, long before the failed refresh's 500 ms
    expect(await cache.get('k', loader)).toBe('set')
    await until(() => calls === 3)
    await until(() => cache.peek('k')?.value === 'v3')
  })

  it('refreshRetryDelay (deprecated) keeps its fixed delay, and cannot be set with refreshBackoff', async () => {
    expect(backoffPolicy(undefined, 250)).toEqual({ initialMs: 250, maxMs: 250, factor: 1, jitter: 0 })
    expect(() => new TierCache({ refreshRetryDelay: 1, refreshBackoff: {} })).toThrow(/cannot both be set/)
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: '1h', refreshRetryDelay: '2s' })
    const { loader, calls, fail } = countingLoader(() => 'v')
    cache.on('error', () => {})
    await cache.get('k', loader)
    fail()
    clock.advance(1_000)
    await attempts(cache, loader, calls, 2)
    for (let n = 3; n < 6; n++) {
      clock.advance(1_999)
      await cache.get('k', loader)
      await tick()
      expect(calls).toHaveLength(n - 1)
      clock.advance(1)
      await attempts(cache, loader, calls, n)
    }
  })

  it.each([
    [{ initial: -1 }, /options\.refreshBackoff\.initial must be a duration/],
    [{ max: '1 min' }, /options\.refreshBackoff\.max must be a duration/],
    [{ initial: '2s', max: '1s' }, /options\.refreshBackoff\.max must be >= initial/],
    [{ factor: 0.5 }, /options\.refreshBackoff\.factor must be a finite number >= 1/],
    [{ factor: Infinity }, /options\.refreshBackoff\.factor/],
    [{ jitter: 1 }, /options\.refreshBackoff\.jitter must be a number >= 0 and < 1/],
    [{ intial: 5 }, /options\.refreshBackoff\.intial is not an option; valid options: initial, max, factor, jitter/],
    ['1s', /options\.refreshBackoff must be an object/],
  ])('rejects refreshBackoff %j naming the bad part', (bad, pattern) => {
    expect(() => new TierCache({ refreshBackoff: bad as never })).toThrow(pattern)
  })
})

describe('the backoff map stays bounded', () => {
  it('fixed delay: 100k distinct failing keys leave at most one delay of them', () => {
    const clock = new ManualClock()
    const backoff = new Backoff(backoffPolicy(undefined, 1_000), clock, Math.random)
    for (let i = 0; i < 100_000; i++) {
      backoff.failed(`key:${i}`)
      clock.advance(1)
    }
    // One failure per ms, one second of delay: about a thousand keys are still waiting, the rest are gone.
    expect(backoff.size).toBeLessThanOrEqual(1_001)
    expect(backoff.size).toBeGreaterThan(900)
    clock.advance(1_000)
    backoff.failed('last')
    expect(backoff.size).toBe(1)
  })

  it('a burst of more distinct failing keys than maxKeys inside the window keeps maxKeys, the latest ones', () => {
    const clock = new ManualClock()
    const policy = backoffPolicy({ initial: 60_000, max: 600_000, factor: 2, jitter: 0 }, undefined)
    const backoff = new Backoff(policy, clock, Math.random, 1_000)
    for (let i = 0; i < 5_000; i++) backoff.failed(`key:${i}`) // all at one instant: none has expired
    expect(backoff.size).toBe(1_000)
    expect(backoff.waiting('key:4999')).toBe(true)
    expect(backoff.waiting('key:0')).toBe(false) // forgotten first: only retried sooner
    // The default bound holds for the same burst past it.
    const unbounded = new Backoff(policy, clock, Math.random)
    for (let i = 0; i < BACKOFF_MAX_KEYS + 10; i++) unbounded.failed(`key:${i}`)
    expect(unbounded.size).toBe(BACKOFF_MAX_KEYS)
  })

  it('exponential: keys are kept while they may still grow (max past their retry), then dropped', () => {
    const clock = new ManualClock()
    const policy = backoffPolicy({ initial: 100, max: 1_000, factor: 2, jitter: 0.2 }, undefined)
    const backoff = new Backoff(policy, clock, Math.random)
    for (let i = 0; i < 100_000; i++) {
      backoff.failed(`key:${i % 50_000}`)
      clock.advance(1)
    }
    // At most the keys that failed within max × (1 + jitter) + max = 2.2 s.
    expect(backoff.size).toBeLessThanOrEqual(2_200)
    clock.advance(2_200)
    backoff.failed('last')
    expect(backoff.size).toBe(1)
  })
})
