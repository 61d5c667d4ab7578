export { parseCacheControl } from './cache-control.js'
export { type CachedListener, cacheHttp } from './cache-http.js'
export { type CacheKeyFunction, defaultCacheKey, normalisedCacheKey, normaliseUrl } from './cache-key.js'
export type { CacheRequest } from './cache-request.js'
export {
  type BypassReason,
  bypassReason,
  type SetCookiePolicy,
  type UnstorableReason,
  unstorableReason,
} from './cacheable.js'
export { type CachedResponse, type HttpCacheValue, httpValueSize, type VaryIndex } from './cached-response.js'
export { type NodeHandler, nodeOrigin } from './capture.js'
export { type FailedResponse, OriginError, type OriginFailure } from './errors.js'
export { type CacheMiddleware, cacheExpress } from './express.js'
export { type CachePlugin, cacheFastify } from './fastify.js'
export { type CachedFetchHandler, cacheFetch, type FetchHandler } from './fetch.js'
export type { FreshHit } from './fresh-hit.js'
export { type Freshness, originFreshness } from './freshness.js'
export type { HeaderMap, StoredHeaders } from './headers.js'
export { HttpCache } from './http-cache.js'
export { writeFreshHit, writeNodeReply } from './node-reply.js'
export { fromNodeRequest, readNodeBody } from './node-request.js'
export { HTTP_DEFAULTS, type HttpCacheOptions, type ResolvedOptions } from './options.js'
export type { Origin, OriginBody, OriginRequest, OriginResponse } from './origin.js'
export type { HttpCachePolicy, HttpCachePolicyName } from './policy/http-cache-policy.js'
export { type CacheStatus, type Outcome, type Reply, replyFromOrigin } from './reply.js'
export type { HttpCacheStats } from './response-counts.js'
export { type Exchange, serve } from './serve.js'
