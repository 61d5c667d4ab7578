import type { IncomingMessage } from 'node:http'

/** A request the proxy answers itself, with this status, instead of serving it. */
export interface Rejection {
  readonly status: 400 | 414 | 505
  readonly reason: string
}

/**
 * Longest request target served (nginx's default `large_client_header_buffers 4 8k`
 * answers 414 past 8 KiB too). Node's own limit on the whole head is 16 KiB (431).
 */
export const MAX_TARGET_LENGTH = 8 * 1024

/**
 * uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2): an IP literal in
 * brackets or a reg-name (IPv4 addresses included), never empty, no userinfo,
 * path or whitespace.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::\d*)?$/

/** The last `Host` value found valid. */
let lastValidHost: string | undefined

/**
 * Why a request must be refused rather than served, `undefined` when it is fine.
 * Node's parser already rejects most malformed requests (a bad request line,
 * whitespace before a colon, obs-fold, bare CR or LF, several or bad
 * `Content-Length`s, a `Transfer-Encoding` not ending in `chunked`); these are
 * the rejections RFC 9112 requires that it lets through.
 */
export function rejection(req: IncomingMessage): Rejection | undefined {
  // RFC 9110 §6.2 / §15.6.6: this server speaks HTTP/1.x; HTTP/0.9 and "HTTP/2.0" in text get a 505.
  if (req.httpVersionMajor !== 1) return { status: 505, reason: `HTTP/${req.httpVersion} is not supported` }
  const raw = req.rawHeaders
  let hosts = 0
  let host = ''
  let contentLength = false
  let transferEncoding = false
  for (let i = 0; i < raw.length; i += 2) {
    // This runs on every request, hits included: compare lengths first, lowercase only a rare spelling.
    const name = raw[i]!
    if (name.length === 4) {
      if (name === 'Host' || name === 'host' || name.toLowerCase() === 'host') {
        hosts++
        host = raw[i + 1]!
      }
    } else if (name.length === 14) {
      contentLength ||=
        name === 'Content-Length' || name === 'content-length' || name.toLowerCase() === 'content-length'
    } else if (name.length === 17) {
      transferEncoding ||=
        name === 'Transfer-Encoding' || name === 'transfer-encoding' || name.toLowerCase() === 'transfer-encoding'
    }
  }
  // RFC 9112 §3.2: more than one Host field, an HTTP/1.1 request without one, or a Host with an invalid value: 400.
  if (hosts > 1) return { status: 400, reason: 'more than one Host header' }
  if (hosts === 0 && req.httpVersionMinor >= 1) return { status: 400, reason: 'no Host header' }
  if (hosts === 1 && host !== lastValidHost) {
    if (!HOST.test(host)) return { status: 400, reason: 'invalid Host header' }
    // Nearly every request names the host the one before did: checked once until it changes.
    lastValidHost = host
  }
  // RFC 9112 §6.1: Content-Length with Transfer-Encoding is a smuggling attempt, answered 400 and the
  // connection closed; so is Transfer-Encoding in HTTP/1.0, whose framing cannot be trusted.
  if (contentLength && transferEncoding) return { status: 400, reason: 'Content-Length with Transfer-Encoding' }
  if (transferEncoding && req.httpVersionMinor === 0) return { status: 400, reason: 'Transfer-Encoding in HTTP/1.0' }
  // RFC 9112 §3: a request target longer than the server parses is answered 414.
  const target = req.url ?? ''
  if (target.length > MAX_TARGET_LENGTH)
    return { status: 414, reason: `request target over ${MAX_TARGET_LENGTH} bytes` }
  // RFC 9112 §3.2: origin-form (/path?query), absolute-form (http://host/path), asterisk-form (OPTIONS *).
  if (target[0] !== '/' && !(target === '*' && req.method === 'OPTIONS') && absoluteTarget(target) === undefined) {
    return { status: 400, reason: 'invalid request target' }
  }
  return undefined
}

/**
 * An absolute-form request target (`GET http://example.com/a?b HTTP/1.1`) as
 * the authority and the origin-form target it names; `undefined` for anything
 * else. RFC 9112 §3.2.2: the server uses this authority and ignores `Host`.
 */
export function absoluteTarget(target: string): { authority: string; path: string } | undefined {
  if (target[0] === '/') return undefined
  const scheme = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(target)
  if (scheme === null) return undefined
  const authority = scheme[1]!
  if (!HOST.test(authority)) return undefined
  const rest = scheme[2]!
  return { authority, path: rest.length === 0 ? '/' : rest[0] === '?' ? `/${rest}` : rest }
}
