/**
 * A header map as Node presents it: lowercase names, a string or (for fields
 * that may repeat, such as `set-cookie`) an array of strings.
 */
export type HeaderMap = Record<string, string | string[] | undefined>

/** A header map with every value present, as it is stored in a cache entry. */
export type StoredHeaders = Record<string, string | string[]>

/** The value of `name` as one string: repeated fields joined with `, ` (RFC 9110 §5.3). */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name]
  if (value === undefined) return undefined
  return typeof value === 'string' ? value : value.join(', ')
}

/** The comma-separated list in a header, each member trimmed and lowercased, empty members dropped. */
export function headerList(headers: HeaderMap, name: string): string[] {
  const value = headerValue(headers, name)
  if (value === undefined) return []
  return value
    .split(',')
    .map((member) => member.trim().toLowerCase())
    .filter((member) => member.length > 0)
}

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection, not the
 * response, so a cache must not store or forward them. `proxy-connection` and
 * `keep-alive` are the non-standard ones §7.6.1 names too.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/**
 * The end-to-end fields of a response: hop-by-hop fields removed, along with
 * every field the `Connection` header names (§7.6.1) and the `drop` list.
 * Values are normalised to strings (Node lets numbers through `setHeader`).
 */
export function endToEnd(headers: Record<string, unknown>, drop: ReadonlySet<string>): StoredHeaders {
  const all: StoredHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue
    all[name.toLowerCase()] = Array.isArray(value) ? value.map(String) : String(value)
  }
  const named = headerList(all, 'connection')
  const kept: StoredHeaders = {}
  for (const [name, value] of Object.entries(all)) {
    if (HOP_BY_HOP.has(name) || drop.has(name) || named.includes(name)) continue
    kept[name] = value
  }
  return kept
}
