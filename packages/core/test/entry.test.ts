import { describe, expect, it } from 'vitest'
import { isFresh, isKept, isServableStale, lifetime, makeEntry } from '../src/entry.js'

describe('entry times', () => {
  it('an entry is fresh, then servable stale, then only kept, then gone', () => {
    const f = { ttl: 1_000, negTtl: 100, staleTtl: 500, resurrectTtl: 2_000 }
    const entry = makeEntry('v', 10_000, lifetime(false, f))
    expect(entry).toEqual({
      value: 'v',
      staleAt: 11_000,
      staleUntil: 11_500,
      expiresAt: 13_000,
      cachedAt: 10_000,
      resurrected: false,
      refreshAt: Infinity,
      meta: undefined,
    })
    expect([isFresh(entry, 10_999), isFresh(entry, 11_000)]).toEqual([true, false])
    expect([isServableStale(entry, 11_499), isServableStale(entry, 11_500)]).toEqual([true, false])
    expect([isKept(entry, 12_999), isKept(entry, 13_000)]).toEqual([true, false])
  })

  it('caps the stale window at the end of the entry, and marks a resurrected one', () => {
    const entry = makeEntry(undefined, 0, { freshMs: 100, keepMs: 150, staleMs: 1_000, resurrected: true })
    expect(entry.staleUntil).toBe(150)
    expect(entry.resurrected).toBe(true)
    expect(lifetime(true, { ttl: 1, negTtl: 0, staleTtl: 5, resurrectTtl: 0 })).toEqual({
      freshMs: Infinity,
      keepMs: Infinity,
      staleMs: 5,
    })
  })
})
