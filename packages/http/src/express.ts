import type { IncomingMessage, ServerResponse } from 'node:http'
import type { NodeHandler } from './capture.js'
import { HttpCache } from './http-cache.js'
import { nodeExchange } from './node-exchange.js'
import type { HttpCacheOptions } from './options.js'
import { serve } from './serve.js'

/** Marks the cache's own requests, dispatched through the app, so the middleware lets them through. */
const SUBREQUEST = Symbol.for('tiercache.http.subrequest')

/** The parts of an Express application the middleware uses (typed here so express stays an optional peer). */
interface ExpressApp extends NodeHandler {
  readonly parent?: ExpressApp
}

/** The parts of an Express request the middleware uses. */
interface ExpressRequest extends IncomingMessage {
  readonly originalUrl?: string
  readonly app?: ExpressApp
  [SUBREQUEST]?: true
}

/** Express middleware with its cache engine attached. */
export interface CacheMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void
  readonly httpCache: HttpCache
}

/**
 * Express (5) middleware: responses of the routes after it are cached.
 *
 * A miss or a refresh is fetched by dispatching a request of the cache's own
 * through the whole application (like an nginx subrequest), which this
 * middleware lets through; so a background refresh needs no client request.
 * Mount it before body parsers when caching POST.
 *
 * @example
 * const app = express()
 * app.use(cacheExpress({ cache, ttl: 60_000, staleTtl: 300_000 }))
 * app.get('/products/:id', handler)
 */
export function cacheExpress(options: HttpCacheOptions | HttpCache): CacheMiddleware {
  const engine = options instanceof HttpCache ? options : new HttpCache(options)
  const middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => {
    const request = req as ExpressRequest
    if (request[SUBREQUEST]) return next()
    if (request.app === undefined) return next(new TypeError('cacheExpress must be mounted in an Express application'))
    const exchange = nodeExchange(
      {
        req,
        res,
        url: request.originalUrl ?? req.url ?? '/',
        handler: rootOf(request.app),
        decorate: (subrequest) => {
          ;(subrequest as ExpressRequest)[SUBREQUEST] = true
        },
        pass: () => next(),
      },
      engine.options.statusHeader,
    )
    serve(engine, exchange).catch(next)
  }
  return Object.assign(middleware, { httpCache: engine })
}

/** The top-level application, so a subrequest sees the same URL space as the client. */
function rootOf(app: ExpressApp): ExpressApp {
  let root = app
  while (root.parent !== undefined) root = root.parent
  return root
}
