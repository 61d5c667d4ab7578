import { describe, expect, it } from 'vitest'
import { invalidatedUrls } from '../../src/policy/invalidation.js'

const post = { method: 'POST', host: 'example.com', url: '/items?x=1' }

describe('invalidatedUrls (RFC 9111 §4.4)', () => {
  it('after a non-error response to an unsafe or unknown method: the target URI, as received', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'M-SEARCH']) {
      expect(invalidatedUrls({ ...post, method }, 200, {}), method).toEqual(['/items?x=1'])
    }
    expect(invalidatedUrls(post, 303, {})).toEqual(['/items?x=1'])
  })

  it('nothing after a safe method or an error response', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'TRACE'])
      expect(invalidatedUrls({ ...post, method }, 200, {})).toEqual([])
    expect(invalidatedUrls(post, 404, {})).toEqual([])
    expect(invalidatedUrls(post, 500, {})).toEqual([])
  })

  it('Location and Content-Location too, only when they have the same origin', () => {
    expect(
      invalidatedUrls(post, 201, { location: '/items/7', contentLocation: 'http://example.com/items/7?v' }),
    ).toEqual(['/items?x=1', '/items/7', '/items/7?v'])
    expect(invalidatedUrls(post, 201, { location: 'http://other.example/items/7' })).toEqual(['/items?x=1'])
  })
})
