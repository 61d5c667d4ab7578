import type { IncomingMessage, ServerResponse } from 'node:http'
import { captureNodeResponse, type NodeHandler } from './capture.js'
import { HttpCache } from './http-cache.js'
import { writeNodeReply } from './node-reply.js'
import { fromNodeRequest, readNodeBody } from './node-request.js'
import type { HttpCacheOptions } from './options.js'
import { type CacheStatus, replyFromOrigin } from './reply.js'

/** A `node:http` request listener with its cache engine attached (for `purge`, `purgeTag`, …). */
export interface CachedListener {
  (req: IncomingMessage, res: ServerResponse): void
  readonly httpCache: HttpCache
}

/**
 * Wrap a `node:http` handler (the origin) in an HTTP cache.
 *
 * @param origin the handler that makes responses; it also runs for background
 *   refreshes, on a request and response of the cache's own.
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
  const statusHeader = engine.options.statusHeader

  const pass = (req: IncomingMessage, res: ServerResponse, status: CacheStatus) => {
    if (statusHeader !== undefined) res.setHeader(statusHeader, status)
    return origin(req, res)
  }

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    let request = fromNodeRequest(req)
    if (engine.bypassReason(request) !== undefined) return pass(req, res, 'BYPASS')
    if (engine.wantsBody(request.method)) {
      const body = await readNodeBody(req, engine.options.maxBodySize)
      // Too large to key or replay: the request goes through whole (the body was put back).
      if (body === undefined) return pass(req, res, 'BYPASS')
      request = { ...request, body }
    }
    const outcome = await engine.handle(request, (originRequest) => captureNodeResponse(origin, originRequest))
    if (outcome.kind === 'reply') return writeNodeReply(res, outcome)
    if (request.body === undefined) return pass(req, res, outcome.cacheStatus)
    // The body was read off the live request: replay it to the origin on a request of our own.
    const controller = new AbortController()
    res.once('close', () => controller.abort())
    const replayed = await captureNodeResponse(origin, { ...request, signal: controller.signal })
    const at = { method: request.method, requestHeaders: request.headers, statusHeader, now: Date.now() }
    const reply = replyFromOrigin(replayed.status, replayed.headers, replayed.body, outcome.cacheStatus, at)
    if (reply.kind === 'reply') await writeNodeReply(res, reply)
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res).catch((error: unknown) => failed(res, error))
  }
  return Object.assign(listener, { httpCache: engine })
}

/** Last resort when serving threw (a key function threw, a socket broke): a 500 if nothing was sent yet. */
function failed(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy(error instanceof Error ? error : undefined)
    return
  }
  res.statusCode = 500
  res.setHeader('content-type', 'text/plain; charset=utf-8')
  res.end('Internal Server Error\n')
}
