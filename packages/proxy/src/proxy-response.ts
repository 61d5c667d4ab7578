import { type IncomingMessage, ServerResponse } from 'node:http'
import type { RequestRecord } from './access-log.js'

/**
 * The proxy server's response class (`createServer({ ServerResponse })`): it
 * carries its request's access log record itself, so a hit allocates no record
 * and no closure for the log; the one `close` listener is shared by every
 * response (`this` is the response).
 */
export class ProxyResponse extends ServerResponse<IncomingMessage> implements RequestRecord {
  startedAt = 0
  ms: number | undefined = undefined
  cacheStatus: string | undefined = undefined
  bytes: number | undefined = undefined
  target: string | undefined = undefined
}
