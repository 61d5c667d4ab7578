import type { StoredHeaders } from './headers.js'

/**
 * One response as the cache keeps it: what the origin sent minus hop-by-hop
 * fields, with the body as bytes. Stored through a `TierCache`, so it must stay
 * plain data (the codec encodes it for the shared store).
 */
export interface CachedResponse {
  readonly kind: 'response'
  readonly status: number
  /** End-to-end headers, lowercase names. No `content-length`: it is recomputed from `body`. */
  readonly headers: StoredHeaders
  readonly body: Uint8Array
  /** Wall-clock ms when it came from the origin (or was last revalidated), for the `Age` header. */
  readonly storedAt: number
  /** The `Age` the origin's response already had, in seconds (RFC 9111 §4.2.3). */
  readonly initialAge: number
}

/**
 * Stored under a primary key whose response carries `Vary`: names the request
 * headers that select a variant. Each variant lives under
 * `variantKey(primary, generation, names, headers)`; a new generation (after a
 * purge, or when `Vary` changes) orphans every old variant in O(1).
 */
export interface VaryIndex {
  readonly kind: 'vary'
  readonly names: readonly string[]
  readonly generation: string
}

/** What an HTTP cache keeps in its `TierCache`. */
export type HttpCacheValue = CachedResponse | VaryIndex

/** Current age of a cached response in whole seconds (RFC 9111 §4.2.3, with the receipt time as request time). */
export function ageSeconds(response: CachedResponse, now: number): number {
  return response.initialAge + Math.max(0, Math.floor((now - response.storedAt) / 1000))
}

/**
 * Approximate bytes one value holds in memory: pass it as the cache's
 * `sizeOf` with `lruMaxBytes` to bound L1 by bytes rather than by count.
 *
 * @example
 * new TierCache<HttpCacheValue>({ lruMaxBytes: 64 * 1024 * 1024, sizeOf: httpValueSize })
 */
export function httpValueSize(value: HttpCacheValue): number {
  if (value.kind === 'vary') return 64 + value.names.join('').length
  let size = 128 + value.body.byteLength
  for (const [name, field] of Object.entries(value.headers)) {
    size += name.length + (typeof field === 'string' ? field.length : field.join('').length)
  }
  return size
}
