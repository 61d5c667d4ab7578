import type { HeaderMap } from './headers.js'

/**
 * One request as the cache sees it, whatever server or framework received it.
 * Integrations build it; key functions and predicates read it.
 */
export interface CacheRequest {
  /** Upper-case method, e.g. `GET`. */
  readonly method: string
  /** The `Host` the client asked for (port included), lowercased; `''` when absent. */
  readonly host: string
  /** Path and query exactly as received, e.g. `/search?q=a&page=2`. */
  readonly url: string
  /** Request headers, lowercase names. */
  readonly headers: HeaderMap
  /** The request body, read (up to `maxBodySize`) only for cacheable methods that carry one, such as POST. */
  readonly body?: Uint8Array | undefined
}
