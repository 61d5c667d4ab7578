import type { IncomingMessage, ServerResponse } from 'node:http'
import type { NodeHandler } from './capture.js'
import type { FreshHit } from './fresh-hit.js'
import { HttpCache } from './http-cache.js'
import { nodeExchange } from './node-exchange.js'
import { writeFreshHit } from './node-reply.js'
import { fromNodeRequest } from './node-request.js'
import type { HttpCacheOptions } from './options.js'
import { countsOf } from './response-counts.js'
import { serve } from './serve.js'

/** A `node:http` request listener with its cache engine attached (for `purge`, `purgeTag`, …). */
export interface CachedListener {
  (req: IncomingMessage, res: ServerResponse): void
  readonly httpCache: HttpCache
}

/**
 * Wrap a `node:http` handler (the origin) in an HTTP cache.
 *
 * @param origin the handler that makes responses; for misses and background
 *   refreshes it runs on a request and response of the cache's own.
 * @param options cache options, or an `HttpCache` shared with other integrations.
 *
 * @example
 * const cache = new TierCache<HttpCacheValue>({ name: 'http', store, ipc })
 * const listener = cacheHttp(originHandler, { cache, ttl: 60_000, staleTtl: 300_000 })
 * http.createServer(listener).listen(8080)
 * await listener.httpCache.purgeTag('product-42')
 */
export function cacheHttp(origin: NodeHandler, options: HttpCacheOptions | HttpCache): CachedListener {
  if (typeof origin !== 'function') throw new TypeError('origin must be a function (req, res) => void')
  const engine = options instanceof HttpCache ? options : new HttpCache(options)
  const full = (req: IncomingMessage, res: ServerResponse) => {
    const exchange = nodeExchange(
      { req, res, url: req.url ?? '/', handler: origin, pass: () => origin(req, res) },
      engine.options.statusHeader,
    )
    serve(engine, exchange).catch((error: unknown) => serveFailed(res, error))
  }
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    // The hot path first: a fresh L1 hit written at once with its prebuilt head; anything else takes the full flow.
    let hit: FreshHit | undefined
    try {
      hit = engine.freshHit(fromNodeRequest(req))
      if (hit !== undefined) writeFreshHit(res, hit)
    } catch (error) {
      // Counted as the full flow counts a request it could not answer (`stats().errors`).
      countsOf(engine).failed()
      return serveFailed(res, error)
    }
    if (hit === undefined) full(req, res)
  }
  return Object.assign(listener, { httpCache: engine })
}

/** Last resort when serving threw (a key function threw, a socket broke): a 500 if nothing was sent yet. */
function serveFailed(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy(error instanceof Error ? error : undefined)
    return
  }
  res.statusCode = 500
  res.setHeader('content-type', 'text/plain; charset=utf-8')
  res.end('Internal Server Error\n')
}
