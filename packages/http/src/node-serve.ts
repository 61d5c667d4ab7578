import type { IncomingMessage, ServerResponse } from 'node:http'
import { captureNodeResponse, type NodeHandler } from './capture.js'
import type { HttpCache } from './http-cache.js'
import { writeNodeReply } from './node-reply.js'
import { fromNodeRequest, readNodeBody } from './node-request.js'
import { type CacheStatus, replyFromOrigin } from './reply.js'

/** How one `node:http`-based integration reaches its origin. */
export interface NodeOrigin {
  /** Path and query of the request (Express: `originalUrl`). */
  readonly url: string
  /** Runs the origin on a request of the cache's own (a miss, a refresh). */
  readonly handler: NodeHandler
  /** Marks the cache's own requests, so a middleware lets them through. */
  readonly decorate?: (req: IncomingMessage, res: ServerResponse) => void
  /** Sends the live request to the origin (a bypass or an uncacheable response); the status header is set. */
  readonly pass: () => unknown
}

/** The request flow shared by `cacheHttp` and `cacheExpress`. */
export async function serveNode(engine: HttpCache, req: IncomingMessage, res: ServerResponse, origin: NodeOrigin) {
  const statusHeader = engine.options.statusHeader
  const pass = (status: CacheStatus) => {
    if (statusHeader !== undefined) res.setHeader(statusHeader, status)
    return origin.pass()
  }

  let request = fromNodeRequest(req, origin.url)
  if (engine.bypassReason(request) !== undefined) return pass('BYPASS')
  if (engine.wantsBody(request.method)) {
    const body = await readNodeBody(req, engine.options.maxBodySize)
    // Too large to key or replay: the request goes through whole (the body was put back).
    if (body === undefined) return pass('BYPASS')
    request = { ...request, body }
  }
  const capture = origin.decorate
  const outcome = await engine.handle(request, (originRequest) =>
    captureNodeResponse(origin.handler, originRequest, capture),
  )
  if (outcome.kind === 'reply') return writeNodeReply(res, outcome)
  if (request.body === undefined) return pass(outcome.cacheStatus)

  // The body was read off the live request: replay it to the origin on a request of our own.
  const controller = new AbortController()
  res.once('close', () => controller.abort())
  const replayed = await captureNodeResponse(origin.handler, { ...request, signal: controller.signal }, capture)
  const at = { method: request.method, requestHeaders: request.headers, statusHeader, now: Date.now() }
  const reply = replyFromOrigin(replayed.status, replayed.headers, replayed.body, outcome.cacheStatus, at)
  if (reply.kind === 'reply') await writeNodeReply(res, reply)
}

/** Last resort when serving threw (a key function threw, a socket broke): a 500 if nothing was sent yet. */
export function serveFailed(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy(error instanceof Error ? error : undefined)
    return
  }
  res.statusCode = 500
  res.setHeader('content-type', 'text/plain; charset=utf-8')
  res.end('Internal Server Error\n')
}
