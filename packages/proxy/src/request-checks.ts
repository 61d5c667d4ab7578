import type { IncomingMessage } from 'node:http'

/**
 * Why a request must be answered 400 rather than served, `undefined` when it is fine.
 * Node's parser already rejects most malformed requests; these are the
 * RFC 9112 rejections it lets through.
 */
export function rejectReason(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders
  let hosts = 0
  let contentLength = false
  let transferEncoding = false
  for (let i = 0; i < raw.length; i += 2) {
    // Compare lengths first: this runs on every request, hits included.
    const name = raw[i]!
    if (name.length === 4) hosts += name.toLowerCase() === 'host' ? 1 : 0
    else if (name.length === 14) contentLength ||= name.toLowerCase() === 'content-length'
    else if (name.length === 17) transferEncoding ||= name.toLowerCase() === 'transfer-encoding'
  }
  // RFC 9112 §3.2: a request with more than one Host field, or an HTTP/1.1 request without one, gets a 400.
  if (hosts > 1) return 'more than one Host header'
  if (hosts === 0 && req.httpVersion === '1.1') return 'no Host header'
  // RFC 9112 §6.1: Content-Length with Transfer-Encoding is a smuggling attempt, answered 400 and the connection closed.
  if (contentLength && transferEncoding) return 'Content-Length with Transfer-Encoding'
  return undefined
}
