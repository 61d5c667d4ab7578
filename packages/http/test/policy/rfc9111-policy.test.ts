import { TierCache } from '@tiercache/core'
import { HttpCache, type HttpCacheValue } from '@tiercache/http'
import { describe, expect, it } from 'vitest'
import type { CacheRequest } from '../../src/cache-request.js'
import { MAX_HEURISTIC_SECONDS } from '../../src/policy/heuristic.js'
import { nginxPolicy, rfc9111Policy } from '../../src/policy/http-cache-policy.js'

const cache = new TierCache<HttpCacheValue>({ name: 'policy-unit' })
const settings = new HttpCache({ cache, policy: 'rfc9111' }).options
const now = Date.parse('2026-11-30T12:00:00Z')
const date = 'Mon, 30 Nov 2026 12:00:00 GMT'
const request: CacheRequest = { method: 'GET', host: 'example.com', url: '/', headers: {} }
const withAuth: CacheRequest = { ...request, headers: { authorization: 'Basic x' } }

const fresh = (status: number, headers: Record<string, string | string[]>) =>
  rfc9111Policy.freshness({ status, headers: { date, ...headers } }, now, settings)
const unstorable = (status: number, headers: Record<string, string>, req = request) =>
  rfc9111Policy.unstorableReason({ status, headers }, req, settings)

describe("policy: 'rfc9111' — options", () => {
  it('names its defaults: heuristic ttl 0, every final status, Set-Cookie stored, CDN-Cache-Control obeyed', () => {
    expect(settings.policy.name).toBe('rfc9111')
    expect(settings.ttl).toBe(0)
    expect(settings.respectCacheControl).toBe(true)
    expect(settings.statuses.has(599)).toBe(true)
    expect(settings.statuses.has(206) || settings.statuses.has(304)).toBe(false)
    expect(settings.setCookie).toBe('store')
    expect(settings.targetedFields).toEqual(['cdn-cache-control'])
    expect(new HttpCache({ cache }).options.policy).toBe(nginxPolicy)
  })
  it('rejects an unknown policy, and ttl 0 when nothing but the ttl sets freshness', () => {
    expect(() => new HttpCache({ cache, policy: 'rfc2616' as never })).toThrow(/options.policy/)
    expect(() => new HttpCache({ cache, ttl: 0 })).toThrow(/options.ttl/)
    expect(new HttpCache({ cache, ttl: 0, respectCacheControl: true }).options.ttl).toBe(0)
  })
})

describe("policy: 'rfc9111' — freshness (RFC 9111 §4.2)", () => {
  it('explicit: s-maxage over max-age over Expires − Date, minus Age', () => {
    expect(fresh(200, { 'cache-control': 'max-age=3600, s-maxage=60' }).ttl).toBe(60_000)
    expect(fresh(200, { 'cache-control': 'max-age=60', age: '10' }).ttl).toBe(50_000)
    expect(fresh(200, { expires: 'Mon, 30 Nov 2026 12:01:00 GMT' }).ttl).toBe(60_000)
  })
  it('an invalid Expires (Date.parse would accept it) is already expired', () => {
    expect(fresh(200, { expires: 'Mon, 30 Nov 2026 13:00:00 UTC' }).ttl).toBe(0)
    expect(fresh(200, { expires: ['Mon, 30 Nov 2026 13:00:00 GMT', 'Mon, 30 Nov 2026 13:00:00 GMT'] }).ttl).toBe(0)
  })
  it('Age read as its first value (regression: "7200, 0" made a stale response fresh)', () => {
    expect(fresh(200, { 'cache-control': 'max-age=3600', age: '7200, 0' }).ttl).toBeLessThanOrEqual(0)
  })
  it('heuristic: 10 % of the time since Last-Modified, capped, only for heuristically cacheable statuses or public', () => {
    const lastModified = { 'last-modified': 'Mon, 30 Nov 2026 02:00:00 GMT' } // 10 h before Date
    expect(fresh(200, lastModified).ttl).toBe(3_600_000)
    expect(fresh(404, lastModified).ttl).toBe(3_600_000)
    expect(fresh(201, lastModified).ttl).toBe(0)
    expect(fresh(599, lastModified).ttl).toBe(0)
    expect(fresh(599, { ...lastModified, 'cache-control': 'public' }).ttl).toBe(3_600_000)
    expect(fresh(200, { 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' }).ttl).toBe(MAX_HEURISTIC_SECONDS * 1000)
    expect(fresh(200, {}).ttl).toBe(0) // nothing to go on: not reused
  })
  it('no-cache is never fresh, but kept to revalidate; must-revalidate and s-maxage are never served stale', () => {
    expect(fresh(200, { 'cache-control': 'no-cache, max-age=3600' })).toMatchObject({ ttl: 0, keepToRevalidate: true })
    expect(fresh(200, { 'cache-control': 'max-age=1, must-revalidate' })).toMatchObject({
      staleIfError: 0,
      staleTtl: 0,
    })
    expect(fresh(200, { 'cache-control': 's-maxage=1' })).toMatchObject({ staleIfError: 0, staleTtl: 0 })
    expect(fresh(200, { 'cache-control': 'max-age=1' }).staleIfError).toBe(settings.staleIfError)
    expect(fresh(403, { etag: '"a"' }).keepToRevalidate).toBe(false) // §3: nothing makes a 403 storable
  })
  it('a valid CDN-Cache-Control replaces Cache-Control and Expires (RFC 9213 §2.2); an invalid one is ignored', () => {
    expect(fresh(200, { 'cdn-cache-control': 'max-age=10', 'cache-control': 'max-age=3600' }).ttl).toBe(10_000)
    expect(fresh(200, { 'cdn-cache-control': 'max-age=0', expires: 'Mon, 30 Nov 2026 13:00:00 GMT' }).ttl).toBe(0)
    expect(fresh(200, { 'cdn-cache-control': 'max-age="10"', 'cache-control': 'max-age=5' }).ttl).toBe(5_000)
  })
})

describe("policy: 'rfc9111' — storing (RFC 9111 §3)", () => {
  it('no-store, private, Vary: * and (for the targeted field too) keep a response out', () => {
    expect(unstorable(200, { 'cache-control': 'max-age=60, No-Store' })).toBe('no-store')
    expect(unstorable(200, { 'cache-control': 'max-age=60, private' })).toBe('private')
    expect(unstorable(200, { 'cache-control': 'max-age=60', vary: 'Foo, *' })).toBe('vary')
    expect(unstorable(200, { 'cdn-cache-control': 'no-store', 'cache-control': 'max-age=60' })).toBe('no-store')
    expect(unstorable(200, { 'cdn-cache-control': 'max-age=60', 'cache-control': 'no-store' })).toBeUndefined()
    expect(unstorable(200, { 'cache-control': 'max-age=60', 'set-cookie': 'a=1' })).toBeUndefined()
  })
  it('must-understand overrides no-store for understood statuses only (§5.2.2.3)', () => {
    expect(unstorable(200, { 'cache-control': 'max-age=60, no-store, must-understand' })).toBeUndefined()
    expect(unstorable(599, { 'cache-control': 'max-age=60, no-store, must-understand' })).toBe('no-store')
  })
  it('Authorization: stored only when public, s-maxage or must-revalidate allow it (§3.5)', () => {
    expect(unstorable(200, { 'cache-control': 'max-age=60' }, withAuth)).toBe('authorization')
    for (const cc of ['max-age=60, public', 's-maxage=60', 'max-age=60, must-revalidate']) {
      expect(unstorable(200, { 'cache-control': cc }, withAuth), cc).toBeUndefined()
    }
    expect(rfc9111Policy.bypassReason(withAuth, settings)).toBeUndefined()
    expect(rfc9111Policy.mayReuse({ 'cache-control': 'max-age=60' }, withAuth, settings)).toBe(false)
    expect(rfc9111Policy.mayReuse({ 'cache-control': 'max-age=60, public' }, withAuth, settings)).toBe(true)
    expect(rfc9111Policy.mayReuse({ 'cache-control': 'max-age=60' }, request, settings)).toBe(true)
  })
  it('a 5xx with explicit freshness is a response to store; without, an origin failure', () => {
    for (const status of [500, 502, 503, 504]) {
      const headers = { 'cache-control': 'max-age=60' }
      expect(rfc9111Policy.isOriginFailure({ status, headers }, settings)).toBe(false)
      expect(unstorable(status, headers)).toBeUndefined()
      expect(rfc9111Policy.isOriginFailure({ status, headers: { 'last-modified': date } }, settings)).toBe(true)
      expect(nginxPolicy.isOriginFailure({ status, headers }, settings)).toBe(true)
    }
  })
})
