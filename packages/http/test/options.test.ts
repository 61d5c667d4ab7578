import { TierCache } from '@tiercache/core'
import { HttpCache, type HttpCacheValue } from '@tiercache/http'
import { describe, expect, it } from 'vitest'

describe('HTTP cache options', () => {
  const cache = new TierCache<HttpCacheValue>({ name: 'http-options' })

  it('refuse a misspelled name, listing the valid ones (issue 10, guarantee 5)', () => {
    expect(() => new HttpCache({ cache, staleTTL: 5_000 } as never)).toThrow(
      /options\.staleTTL is not an option; valid options: cache, policy, ttl, staleTtl,/,
    )
  })

  it('still accept every documented name', () => {
    expect(new HttpCache({ cache, staleTtl: 5_000, staleIfError: 1_000 }).options.staleTtl).toBe(5_000)
  })

  it('take every duration as ms or a string, and refuse anything else naming the option', () => {
    const durations = {
      ttl: '1m',
      staleTtl: '30s',
      staleIfError: '1h',
      resurrectTtl: '5s',
      lockTimeout: '250ms',
      originTimeout: '10s',
      revalidateTtl: '1d',
      passTtl: '2s',
      varyTtl: '1h',
    } as const
    expect(new HttpCache({ cache, ...durations }).options).toMatchObject({
      ttl: 60_000,
      staleTtl: 30_000,
      staleIfError: 3_600_000,
      resurrectTtl: 5_000,
      lockTimeout: 250,
      originTimeout: 10_000,
      revalidateTtl: 86_400_000,
      passTtl: 2_000,
      varyTtl: 3_600_000,
    })
    for (const name of Object.keys(durations)) {
      for (const bad of ['5 minutes', '1.5.3s', -1, Number.NaN, Infinity]) {
        expect(() => new HttpCache({ cache, [name]: bad })).toThrow(new RegExp(`^options\\.${name} must be a duration`))
      }
    }
    // A size, not a duration: a string is refused.
    expect(() => new HttpCache({ cache, maxBodySize: '1m' as never })).toThrow(/options\.maxBodySize/)
  })
})
