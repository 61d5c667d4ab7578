import { TierCache } from '@tiercache/core'
import {
  type CachedResponse,
  defaultCacheKey,
  HttpCache,
  type HttpCacheValue,
  normalisedCacheKey,
  normaliseUrl,
  originFreshness,
  parseCacheControl,
} from '@tiercache/http'
import { describe, expect, it } from 'vitest'
import { variantKey, varyNames } from '../src/cache-key.js'
import { isNotModified, revalidationHeaders } from '../src/conditional.js'
import { endToEnd } from '../src/headers.js'

const defaults = { ttl: 10_000, staleTtl: 20_000, staleIfError: 30_000 }
const now = Date.parse('2024-10-01T10:00:00Z')

describe('parseCacheControl (RFC 9111 §5.2)', () => {
  it('lowercases names, unquotes values, keeps the first of a repeated directive', () => {
    const cc = parseCacheControl('Max-Age=60, private="set-cookie, x-a", no-cache, max-age=5, s-maxage = 30 ')
    expect(cc.get('max-age')).toBe('60')
    expect(cc.get('private')).toBe('set-cookie, x-a')
    expect(cc.get('no-cache')).toBe('')
    expect(cc.get('s-maxage')).toBe('30')
  })
  it('joins repeated fields and ignores empty members', () => {
    expect([...parseCacheControl(['public', ', max-age=1']).keys()]).toEqual(['public', 'max-age'])
    expect(parseCacheControl(undefined).size).toBe(0)
  })
})

describe('originFreshness (RFC 9111 §4.2.1, RFC 5861)', () => {
  const fresh = (headers: Record<string, string>) => originFreshness(headers, defaults, now)
  it('s-maxage wins over max-age, which wins over Expires', () => {
    expect(fresh({ 'cache-control': 'max-age=60, s-maxage=120' }).ttl).toBe(120_000)
    expect(fresh({ 'cache-control': 'max-age=60', expires: 'Tue, 01 Oct 2024 11:00:00 GMT' }).ttl).toBe(60_000)
  })
  it('Expires minus Date; an invalid Expires is already expired', () => {
    const headers = { expires: 'Tue, 01 Oct 2024 10:05:00 GMT', date: 'Tue, 01 Oct 2024 10:00:00 GMT' }
    expect(fresh(headers).ttl).toBe(300_000)
    expect(fresh({ expires: '0' }).ttl).toBe(0)
  })
  it('subtracts the Age the response already has', () => {
    expect(fresh({ 'cache-control': 'max-age=60', age: '20' }).ttl).toBe(40_000)
  })
  it('falls back to the options when the origin says nothing', () => {
    expect(fresh({})).toEqual(defaults)
  })
  it('no-cache and invalid max-age are not storable (ttl 0)', () => {
    expect(fresh({ 'cache-control': 'no-cache, max-age=60' }).ttl).toBe(0)
    expect(fresh({ 'cache-control': 'max-age=soon' }).ttl).toBe(0)
  })
  it('reads stale-while-revalidate and stale-if-error', () => {
    expect(fresh({ 'cache-control': 'max-age=1, stale-while-revalidate=5, stale-if-error=7' })).toEqual({
      ttl: 1_000,
      staleTtl: 5_000,
      staleIfError: 7_000,
    })
  })
  it('must-revalidate / proxy-revalidate forbid stale; s-maxage does unless RFC 5861 directives are beside it', () => {
    expect(fresh({ 'cache-control': 'max-age=1, must-revalidate, stale-while-revalidate=5' })).toMatchObject({
      staleTtl: 0,
      staleIfError: 0,
    })
    expect(fresh({ 'cache-control': 's-maxage=1' })).toMatchObject({ staleTtl: 0, staleIfError: 0 })
    expect(fresh({ 'cache-control': 's-maxage=1, stale-while-revalidate=9' })).toMatchObject({ staleTtl: 9_000 })
  })
})

describe('cache key', () => {
  it('the default keeps distinct URIs distinct: method, host and the URL as received', () => {
    const key = (url: string) => defaultCacheKey({ method: 'GET', host: 'example.com', url, headers: {} })
    expect(key('/s?b=2&a=%31&a=0')).toBe('GET example.com/s?b=2&a=%31&a=0')
    // Regression: the default once sorted and re-encoded the query, so each pair shared one response.
    for (const [one, other] of [
      ['/q?a=1&b=2', '/q?b=2&a=1'],
      ['/q?x=a+b', '/q?x=a%20b'],
      ['/q?a', '/q?a='],
      ['/q?p=%zz', '/q?p=%25zz'],
    ] as const) {
      expect(key(one)).not.toBe(key(other))
    }
  })
  it('normalisedCacheKey (opt-in) sorts and re-encodes the query', () => {
    const key = normalisedCacheKey({ method: 'GET', host: 'example.com', url: '/s?b=2&a=%31&a=0', headers: {} })
    expect(key).toBe('GET example.com/s?a=1&a=0&b=2')
    expect(normaliseUrl('/p?')).toBe('/p')
    expect(normaliseUrl('/p')).toBe('/p')
  })
  it('Vary names are lowercased, sorted and unique; * stands alone', () => {
    expect(varyNames({ vary: 'Accept-Encoding, accept-language,ACCEPT-ENCODING' })).toEqual([
      'accept-encoding',
      'accept-language',
    ])
    expect(varyNames({ vary: 'accept, *' })).toBe('*')
  })
  it('variant keys differ per header value and per generation, and tell absent from empty', () => {
    const k = (gen: string, headers: Record<string, string>) => variantKey('P', gen, ['accept-encoding'], headers)
    expect(k('g1', { 'accept-encoding': 'gzip' })).not.toBe(k('g1', { 'accept-encoding': 'br' }))
    expect(k('g1', { 'accept-encoding': 'gzip' })).not.toBe(k('g2', { 'accept-encoding': 'gzip' }))
    expect(k('g1', {})).not.toBe(k('g1', { 'accept-encoding': '' }))
    expect(k('g1', { 'accept-encoding': 'gzip , br' })).toBe(k('g1', { 'accept-encoding': 'gzip,br' }))
  })
})

describe('hop-by-hop headers (RFC 9110 §7.6.1)', () => {
  it('drops hop-by-hop fields, those named by Connection, and the drop list; stringifies numbers', () => {
    const kept = endToEnd(
      {
        Connection: 'x-trace',
        'x-trace': '1',
        'Keep-Alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'content-length': 5,
        etag: '"a"',
      },
      new Set(['etag']),
    )
    expect(kept).toEqual({ 'content-length': '5' })
  })
})

describe('conditional (RFC 9110 §13)', () => {
  const cached: CachedResponse = {
    kind: 'response',
    status: 200,
    headers: { etag: 'W/"v1"', 'last-modified': 'Tue, 01 Oct 2024 10:00:00 GMT' },
    body: new Uint8Array(),
    storedAt: now,
    initialAge: 0,
  }
  it('If-None-Match compares weakly, takes lists and *', () => {
    expect(isNotModified('GET', { 'if-none-match': '"v1"' }, cached)).toBe(true)
    expect(isNotModified('GET', { 'if-none-match': '"x", W/"v1"' }, cached)).toBe(true)
    expect(isNotModified('GET', { 'if-none-match': '*' }, cached)).toBe(true)
    expect(isNotModified('GET', { 'if-none-match': '"v2"' }, cached)).toBe(false)
  })
  it('If-Modified-Since only without If-None-Match, only for GET/HEAD, only a valid date', () => {
    expect(isNotModified('HEAD', { 'if-modified-since': 'Tue, 01 Oct 2024 10:00:00 GMT' }, cached)).toBe(true)
    expect(isNotModified('GET', { 'if-modified-since': 'Tue, 01 Oct 2024 09:00:00 GMT' }, cached)).toBe(false)
    expect(isNotModified('POST', { 'if-modified-since': 'Tue, 01 Oct 2024 10:00:00 GMT' }, cached)).toBe(false)
    expect(isNotModified('GET', { 'if-modified-since': 'yesterday' }, cached)).toBe(false)
  })
  it('never for a cached status other than 200', () => {
    expect(isNotModified('GET', { 'if-none-match': '*' }, { ...cached, status: 404 })).toBe(false)
  })
  it('revalidation sends the stored validators', () => {
    expect(revalidationHeaders(cached)).toEqual({
      'if-none-match': 'W/"v1"',
      'if-modified-since': 'Tue, 01 Oct 2024 10:00:00 GMT',
    })
    expect(revalidationHeaders({ ...cached, headers: {} })).toBeUndefined()
  })
})

describe('options', () => {
  const cache = new TierCache<HttpCacheValue>({ name: 'opts' })
  it.each([
    [{ cache: undefined }, /options.cache/],
    [{ cache, ttl: -1 }, /options.ttl/],
    [{ cache, ttl: 0 }, /options.ttl/],
    [{ cache, statuses: '200 abc' }, /options.statuses/],
    [{ cache, methods: ['GET', 'BAD METHOD'] }, /options.methods/],
    [{ cache, setCookie: 'keep' }, /options.setCookie/],
    [{ cache, statusHeader: 'x cache' }, /options.statusHeader/],
    [{ cache, key: 'url' }, /options.key/],
    [{ cache, tagCache: {} }, /options\.tagCache is not an option/],
  ])('rejects %o with a TypeError naming the option', (options, message) => {
    expect(() => new HttpCache(options as never)).toThrow(TypeError)
    expect(() => new HttpCache(options as never)).toThrow(message)
  })
  it('applies defaults and parses space-separated lists', () => {
    const o = new HttpCache({ cache, statuses: '200 405', methods: 'get post' }).options
    expect([...o.statuses]).toEqual([200, 405])
    expect([...o.methods]).toEqual(['GET', 'POST'])
    expect(o.statusHeader).toBe('x-cache')
    expect(o.resurrectTtl).toBe(0)
    expect(new HttpCache({ cache, staleIfError: 60_000 }).options.resurrectTtl).toBe(5_000)
  })
  it('a key function returning an empty string is a TypeError', () => {
    const engine = new HttpCache({ cache, key: () => '' })
    expect(() => engine.keyOf({ method: 'GET', host: 'h', url: '/', headers: {} })).toThrow(/options.key/)
  })
})
