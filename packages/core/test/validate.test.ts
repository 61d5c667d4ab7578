import { describe, expect, it } from 'vitest'
import { TierCache } from '../src/index.js'

describe('bad input', () => {
  const cache = new TierCache<string>({ name: 'bad' })
  it.each([
    ['', /key/],
    [42, /key/],
    [undefined, /key/],
  ])('rejects key %j with a TypeError naming the argument', async (key, pattern) => {
    await expect(cache.get(key as string, async () => 'v')).rejects.toThrow(TypeError)
    await expect(cache.get(key as string, async () => 'v')).rejects.toThrow(pattern)
  })

  it.each([
    [{ ttl: -1 }, /options\.ttl/],
    [{ ttl: Number.NaN }, /options\.ttl/],
    [{ negTtl: -5 }, /options\.negTtl/],
    [{ staleTtl: Infinity }, /options\.staleTtl/],
  ])('rejects per-call options %j with a TypeError', async (options, pattern) => {
    await expect(cache.get('k', options, async () => 'v')).rejects.toThrow(pattern)
  })

  it('rejects a loader that is not a function', async () => {
    await expect(cache.get('k', {}, 'nope' as never)).rejects.toThrow(/loader must be a function/)
    await cache.set('hot', 'v')
    await expect(cache.get('hot', {}, 42 as never)).rejects.toThrow(TypeError)
  })

  it('rejects bad constructor options', () => {
    expect(() => new TierCache({ ttl: -1 })).toThrow(/options\.ttl/)
    expect(() => new TierCache({ name: '' })).toThrow(/options\.name/)
    expect(() => new TierCache({ lruSize: 1.5 })).toThrow(/options\.lruSize/)
    expect(() => new TierCache({ lruMaxBytes: 100 })).toThrow(/options\.sizeOf/)
  })

  it('rejects a loader ttl override that is not a duration', async () => {
    await expect(
      cache.get('override', (_k, ctx) => {
        ctx.ttl = -3
        return 'v'
      }),
    ).rejects.toThrow(/ctx\.ttl/)
  })
})

describe('argument descriptions', () => {
  it('name a bad value by its kind, and cut long strings, without dumping objects', async () => {
    const { describe: describeValue } = await import('../src/validate.js')
    expect(describeValue('x'.repeat(50))).toBe(JSON.stringify(`${'x'.repeat(40)}…`))
    expect(describeValue(null)).toBe('null')
    expect(describeValue([1])).toBe('an array')
    expect(describeValue({ secret: 1 })).toBe('an object')
    expect(describeValue(() => 1)).toBe('a function')
    expect(() => new TierCache({ name: 42 as never })).toThrow('options.name must be a non-empty string, got 42')
  })
})
