import { describe, expect, it } from 'vitest'
import { requestedRange } from '../../src/policy/byte-range.js'

const range = (value: string, stored = {}, extra = {}) => requestedRange({ range: value, ...extra }, stored, 10)

describe('requestedRange (RFC 9110 §14.2)', () => {
  it('one byte range: first-last, first-, -suffix, clipped to the size', () => {
    expect(range('bytes=0-1')).toEqual({ start: 0, end: 1 })
    expect(range('bytes=5-')).toEqual({ start: 5, end: 9 })
    expect(range('bytes=-3')).toEqual({ start: 7, end: 9 })
    expect(range('bytes=8-100')).toEqual({ start: 8, end: 9 })
  })

  it('unsatisfiable when it starts past the end', () => {
    expect(range('bytes=10-')).toBe('unsatisfiable')
    expect(range('bytes=-0')).toBe('unsatisfiable')
  })

  it('the whole response instead for several ranges, other units, malformed ranges or a stale If-Range', () => {
    for (const value of ['bytes=0-1,3-4', 'items=0-1', 'bytes=3-1', 'bytes=-', 'bytes=a-b']) {
      expect(range(value), value).toBeUndefined()
    }
    expect(requestedRange({}, {}, 10)).toBeUndefined()
    expect(range('bytes=0-1', { etag: '"a"' }, { 'if-range': '"b"' })).toBeUndefined()
    expect(range('bytes=0-1', { etag: 'W/"a"' }, { 'if-range': 'W/"a"' })).toBeUndefined()
    expect(range('bytes=0-1', { etag: '"a"' }, { 'if-range': '"a"' })).toEqual({ start: 0, end: 1 })
  })
})
