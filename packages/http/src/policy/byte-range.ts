import { type HeaderMap, headerValue } from '../headers.js'

/** The bytes one `Range` asks for, both ends inclusive; `'unsatisfiable'` when none of them exist (RFC 9110 §15.5.17). */
export type ByteRange = { readonly start: number; readonly end: number } | 'unsatisfiable'

/**
 * The single byte range a request asks for of a stored complete response of
 * `size` bytes (RFC 9110 §14.2), or `undefined` when the cache should send the
 * whole response instead: no `Range`, another unit, several ranges (a
 * multipart answer is not worth it; ignoring `Range` is always allowed,
 * §14.2), a malformed one, or an `If-Range` that does not match the stored
 * validator exactly (§13.1.5: only a strong `ETag`, or a `Last-Modified` date).
 */
export function requestedRange(request: HeaderMap, stored: HeaderMap, size: number): ByteRange | undefined {
  const range = headerValue(request, 'range')
  if (range === undefined) return undefined
  const ifRange = headerValue(request, 'if-range')
  if (ifRange !== undefined && !ifRangeMatches(ifRange.trim(), stored)) return undefined
  const match = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i.exec(range)
  if (match === null || (match[1] === '' && match[2] === '')) return undefined
  if (match[1] === '') {
    // bytes=-N: the last N bytes
    const suffix = Number(match[2])
    if (suffix === 0) return 'unsatisfiable'
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(match[1])
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1)
  if (match[2] !== '' && Number(match[2]) < start) return undefined // invalid: ignore the field
  if (start >= size) return 'unsatisfiable'
  return { start, end }
}

function ifRangeMatches(ifRange: string, stored: HeaderMap): boolean {
  if (ifRange.startsWith('"')) return headerValue(stored, 'etag') === ifRange
  if (ifRange.startsWith('W/')) return false
  return headerValue(stored, 'last-modified') === ifRange
}
