import type { IncomingMessage, ServerResponse } from 'node:http'
import { type NodeHandler, nodeOrigin } from './capture.js'
import { writeNodeReply } from './node-reply.js'
import { fromNodeRequest, readNodeBody } from './node-request.js'
import type { Exchange } from './serve.js'

/** One `node:http` request of an integration (`cacheHttp`, `cacheExpress`) and the way to its origin. */
export interface NodeExchangeInit {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** Path and query of the request (Express: `originalUrl`). */
  readonly url: string
  /** Runs the origin on a request of the cache's own (a miss, a refresh). */
  readonly handler: NodeHandler
  /** Marks the cache's own requests, so a middleware lets them through. */
  readonly decorate?: (req: IncomingMessage, res: ServerResponse) => void
  /** Sends the live request to the origin (a bypass or an uncacheable response); the status header is set. */
  readonly pass: () => unknown
}

/** A `node:http` request and response as the request flow sees them. */
export function nodeExchange(init: NodeExchangeInit, statusHeader: string | undefined): Exchange<unknown> {
  const { req, res, handler, decorate } = init
  const origin = nodeOrigin(handler, decorate)
  return {
    request: fromNodeRequest(req, init.url),
    // Interim responses (103 Early Hints) reach this client while it still waits for its answer; a
    // refresh it triggered after being answered stale relays nothing.
    origin: (request) =>
      origin({
        ...request,
        onInformation: (status, headers) => {
          if (status === 103 && !res.headersSent && !res.writableEnded) res.writeEarlyHints(headers)
        },
      }),
    readBody: (limit) => readNodeBody(req, limit),
    replaySignal: () => {
      const controller = new AbortController()
      res.once('close', () => controller.abort())
      return controller.signal
    },
    pass: (status, passed) => {
      if (statusHeader !== undefined) res.setHeader(statusHeader, status)
      // The origin writes to the live response itself: the cache hears of it once it is sent, or once the
      // client has gone ('finish' never comes then), since the origin ran the request all the same and an
      // unsafe method changed what it targets whether or not anybody reads the answer.
      if (passed !== undefined) {
        let told = false
        const tell = () => {
          if (told) return
          told = true
          void passed(res.statusCode, res.getHeaders())
        }
        res.once('finish', tell)
        res.once('close', tell)
      }
      return init.pass()
    },
    reply: (reply) => writeNodeReply(res, reply),
  }
}
