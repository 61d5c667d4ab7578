/**
 * The `Cache-Control` field as a map of directives (RFC 9111 §5.2).
 *
 * Directive names are case-insensitive (§5.2), so they are lowercased; values
 * keep their case with quotes removed. A directive without a value maps to `''`.
 * When a directive repeats, the first occurrence wins (§4.2.1 allows either the
 * first or treating the response as stale; the first is what caches do).
 */
export function parseCacheControl(field: string | readonly string[] | undefined): Map<string, string> {
  const directives = new Map<string, string>()
  if (field === undefined) return directives
  const text = typeof field === 'string' ? field : field.join(',')
  let i = 0
  while (i < text.length) {
    // name
    let end = i
    while (end < text.length && text[end] !== ',' && text[end] !== '=') end++
    const name = text.slice(i, end).trim().toLowerCase()
    let value = ''
    i = end
    if (text[i] === '=') {
      i++
      while (text[i] === ' ' || text[i] === '\t') i++
      if (text[i] === '"') {
        // quoted-string (RFC 9110 §5.6.4): a backslash escapes the next character
        i++
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\') i++
          if (i < text.length) value += text[i]
          i++
        }
        i++
        while (i < text.length && text[i] !== ',') i++
      } else {
        end = i
        while (end < text.length && text[end] !== ',') end++
        value = text.slice(i, end).trim()
        i = end
      }
    }
    i++ // the comma
    if (name.length > 0 && !directives.has(name)) directives.set(name, value)
  }
  return directives
}

/** 2^31 seconds: RFC 9111 §1.2.2 says larger delta-seconds are to be read as this. */
const MAX_DELTA_SECONDS = 2_147_483_648

/**
 * A delta-seconds value (RFC 9111 §1.2.2) in seconds: a non-negative integer,
 * capped at 2^31. `undefined` when absent or not a valid number (the caller
 * decides what an invalid value means; §4.2.1 treats it as stale).
 */
export function deltaSeconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined
  return Math.min(Number(value), MAX_DELTA_SECONDS)
}
