/**
 * Differential test: policy 'rfc9111' against http-cache-semantics (the
 * library behind make-fetch-happen and got's cache) as a shared cache, on
 * random header sets, where the two implement the same RFC 9111 rules: may the
 * response be reused without revalidation, and for how long.
 *
 * Deliberate differences, kept out of the generator and pinned below:
 * - statuses outside http-cache-semantics' "understood" list (400, 403, 500,
 *   502-504, 599…) with explicit freshness: we store them (RFC 9111 §3 asks a
 *   cache to understand only 206, 304 and must-understand responses), it does not;
 * - `proxy-revalidate`: it zeroes freshness; RFC 9111 §5.2.2.8 only forbids
 *   serving the response stale, which is what we do;
 * - `Set-Cookie`: it refuses to reuse such responses unless `public`; we store
 *   them as RFC 9111 allows (`setCookie: 'bypass'` opts out);
 * - `Expires` is read with `Date.parse` there (invalid dates such as `… UTC`
 *   count as valid); RFC 9110 §5.6.7's grammar here;
 * - heuristic freshness is capped at a day here, unbounded there;
 * - `immutable` gets a 24 h minimum there, nothing special here.
 */
import { TierCache } from '@tiercache/core'
import { HttpCache, type HttpCacheValue } from '@tiercache/http'
import fc from 'fast-check'
import CachePolicy from 'http-cache-semantics'
import { describe, expect, it } from 'vitest'
import { rfc9111Policy } from '../../src/policy/http-cache-policy.js'

const settings = new HttpCache({ cache: new TierCache<HttpCacheValue>({ name: 'diff' }), policy: 'rfc9111' }).options
const now = Date.parse('2026-11-30T12:00:00Z')
const httpDate = (ms: number) => new Date(ms).toUTCString() // IMF-fixdate

/** http-cache-semantics with its clock fixed at `now`. */
class FixedClockPolicy extends CachePolicy {
  override now(): number {
    return now
  }
}

/** Statuses http-cache-semantics understands (its storable() refuses every other one). */
const UNDERSTOOD = [200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501]

const seconds = fc.integer({ min: 0, max: 100_000 })
const responses = fc.record({
  status: fc.constantFrom(...UNDERSTOOD),
  directives: fc.subarray(['no-cache', 'no-store', 'private', 'public', 'must-revalidate']),
  maxAge: fc.option(seconds, { nil: undefined }),
  sMaxAge: fc.option(seconds, { nil: undefined }),
  /** Expires relative to Date, in seconds. */
  expires: fc.option(fc.integer({ min: -10_000, max: 100_000 }), { nil: undefined }),
  /** Date relative to now, in seconds (clock skew both ways). */
  date: fc.option(fc.integer({ min: -600, max: 600 }), { nil: undefined }),
  /** Last-Modified before Date, in tens of seconds, within ten days (the heuristic stays under the cap). */
  lastModified: fc.option(fc.integer({ min: 0, max: 86_400 }), { nil: undefined }),
  age: fc.option(fc.integer({ min: 0, max: 200_000 }), { nil: undefined }),
  authorization: fc.boolean(),
})

type Generated = typeof responses extends fc.Arbitrary<infer T> ? T : never

function headersOf(r: Generated): Record<string, string> {
  const cc = [...r.directives]
  if (r.maxAge !== undefined) cc.push(`max-age=${r.maxAge}`)
  if (r.sMaxAge !== undefined) cc.push(`s-maxage=${r.sMaxAge}`)
  const date = now + (r.date ?? 0) * 1000
  const headers: Record<string, string> = {}
  if (cc.length > 0) headers['cache-control'] = cc.join(', ')
  if (r.date !== undefined) headers.date = httpDate(date)
  if (r.expires !== undefined) headers.expires = httpDate(date + r.expires * 1000)
  if (r.lastModified !== undefined) headers['last-modified'] = httpDate(date - r.lastModified * 10_000)
  if (r.age !== undefined) headers.age = String(r.age)
  return headers
}

/** Ours: reusable without revalidation for this many ms (0: not at all). */
function ours(r: Generated, headers: Record<string, string>): number {
  const request = { method: 'GET', host: 'a', url: '/', headers: r.authorization ? { authorization: 'x' } : {} }
  const response = { status: r.status, headers }
  if (rfc9111Policy.unstorableReason(response, request, settings) !== undefined) return 0
  return Math.max(0, rfc9111Policy.freshness(response, now, settings).ttl)
}

/** http-cache-semantics: the same question. */
function theirs(r: Generated, headers: Record<string, string>): number {
  const policy = new FixedClockPolicy(
    { method: 'GET', url: '/', headers: r.authorization ? { authorization: 'x' } : {} },
    { status: r.status, headers },
    { shared: true },
  )
  if (!policy.storable()) return 0
  return Math.max(0, (policy.maxAge() - policy.age()) * 1000)
}

describe('rfc9111 policy vs http-cache-semantics (shared cache)', () => {
  it('agree on whether a response is reusable and for how long, on random header sets', () => {
    let reusable = 0
    fc.assert(
      fc.property(responses, (r) => {
        const headers = headersOf(r)
        const ttl = ours(r, headers)
        expect(ttl, JSON.stringify({ status: r.status, headers })).toBe(theirs(r, headers))
        if (ttl > 0) reusable++
      }),
      { numRuns: 2_000 },
    )
    // Both sides of the question were asked, not just "no".
    expect(reusable).toBeGreaterThan(200)
    expect(reusable).toBeLessThan(1_800)
  })

  it('differ where we follow RFC 9111 more closely (pinned, see the header comment)', () => {
    const date = httpDate(now)
    const cases: [number, Record<string, string>][] = [
      [503, { date, 'cache-control': 'max-age=60' }],
      [200, { date, 'cache-control': 'max-age=60, proxy-revalidate' }],
      [200, { date, 'cache-control': 'max-age=60', 'set-cookie': 'a=1' }],
      [200, { date, expires: httpDate(now + 60_000).replace('GMT', 'UTC') }],
    ]
    const r = { authorization: false } as Generated
    expect(cases.map(([status, headers]) => ours({ ...r, status }, headers))).toEqual([60_000, 60_000, 60_000, 0])
    expect(cases.map(([status, headers]) => theirs({ ...r, status }, headers))).toEqual([0, 0, 0, 60_000])
  })
})
