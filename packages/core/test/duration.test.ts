import { describe, expect, it } from 'vitest'
import { DURATION_OPTION_NAMES, type Duration, parseDuration, TierCache } from '../src/index.js'
import { cacheWithClock } from './fixtures.js'

describe('parseDuration', () => {
  it.each([
    [0, 0],
    [250, 250],
    [1.5, 1.5],
    ['250ms', 250],
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['0s', 0],
  ])('reads %j as %d ms', (value, ms) => {
    expect(parseDuration(value, 'options.ttl')).toBe(ms)
  })

  it.each([
    -1,
    Number.NaN,
    Infinity,
    -Infinity,
    '5 minutes',
    '1.5.3s',
    '5',
    '',
    ' 5m',
    '5m ',
    '-5m',
    '5M',
    '1e3ms',
    '5mm',
    'ms',
    null,
    true,
    {},
    [5],
    5n,
  ])('rejects %s with a TypeError naming the option', (value) => {
    expect(() => parseDuration(value, 'options.ttl')).toThrow(TypeError)
    expect(() => parseDuration(value, 'options.ttl')).toThrow(/^options\.ttl must be a duration/)
  })
})

describe('duration options of TierCache', () => {
  it('takes a string for every duration option, and rejects a bad one naming it', () => {
    for (const name of DURATION_OPTION_NAMES) {
      expect(() => new TierCache({ [name]: '2s' })).not.toThrow()
      expect(() => new TierCache({ [name]: '2 seconds' as Duration })).toThrow(new RegExp(`options\\.${name} must be`))
      expect(() => new TierCache({ [name]: -1 })).toThrow(new RegExp(`options\\.${name} must be`))
    }
    expect(() => new TierCache({ lockLease: '0ms' })).toThrow(/options\.lockLease must be > 0/)
  })

  it("ttl: '2s' makes a value stale after 2 000 ms of the cache's clock", async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: '2s' })
    let calls = 0
    const load = async () => `v${++calls}`
    expect(await cache.get('k', load)).toBe('v1')
    clock.advance(1_999)
    expect(await cache.get('k', load)).toBe('v1')
    clock.advance(1)
    expect(await cache.get('k', load)).toBe('v2')
  })

  it('per-call get and set options take strings, parsed per call', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000 })
    expect(await cache.get('a', { ttl: '1m' }, async () => 'a')).toBe('a')
    await cache.set('b', 'b', { ttl: '1h' })
    clock.advance(59_999)
    expect(cache.peek('a')?.ttlRemaining).toBe(1)
    clock.advance(1)
    expect(cache.peek('a')).toBeUndefined()
    expect(cache.peek('b')?.ttlRemaining).toBe(3_600_000 - 60_000)
    await expect(cache.get('c', { ttl: '1 hour' as Duration }, async () => 'c')).rejects.toThrow(
      /options\.ttl must be a duration/,
    )
    await expect(cache.set('c', 'c', { staleTtl: '-1s' as Duration })).rejects.toThrow(/options\.staleTtl/)
  })

  it("a loader may set ctx.ttl = '5m' and reads it back in ms; a bad one rejects naming ctx.ttl", async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000 })
    let seen: number | undefined
    await cache.get('k', (_key, ctx) => {
      ctx.ttl = '5m'
      seen = ctx.ttl
      return 'v'
    })
    expect(seen).toBe(300_000)
    clock.advance(299_999)
    expect(cache.peek('k')?.ttlRemaining).toBe(1)
    await expect(
      cache.get('bad', (_key, ctx) => {
        ctx.staleTtl = 'soon' as Duration
        return 'v'
      }),
    ).rejects.toThrow(/ctx\.staleTtl must be a duration/)
    await expect(
      cache.getMany(['m'], (_keys, ctx) => {
        ctx.ttl = '1h'
        return ['v']
      }),
    ).resolves.toEqual(['v'])
    expect(cache.peek('m')?.ttlRemaining).toBe(3_600_000)
  })
})
