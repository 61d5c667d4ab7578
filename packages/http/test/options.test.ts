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
})
