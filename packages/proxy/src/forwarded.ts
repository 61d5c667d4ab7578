import type { IncomingMessage } from 'node:http'
import type { HeaderMap } from '@tiercache/http'

/**
 * Hop-by-hop request fields (RFC 9110 §7.6.1) and those undici sets itself:
 * they describe the client's connection, not the request, so they stay here.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
])

/**
 * The headers the origin gets for a client request (`from`: the client's, or the
 * cache's version of them without validators), as nginx's usual
 * `proxy_set_header` lines send them: `X-Forwarded-For` with the client's
 * address appended (`$proxy_add_x_forwarded_for`), `X-Forwarded-Proto`
 * (`$scheme`), `X-Forwarded-Host` (`$host`); `Host` becomes the origin's
 * (nginx's default `$proxy_host`), and hop-by-hop fields are dropped.
 */
export function forwardedHeaders(from: HeaderMap, req: IncomingMessage): Record<string, string | string[]> {
  const named = connectionNamed(req.headers.connection)
  const headers: Record<string, string | string[]> = {}
  for (const name in from) {
    const value = from[name]
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name)) continue
    headers[name] = value
  }
  const client = req.socket.remoteAddress ?? ''
  const prior = req.headers['x-forwarded-for']
  headers['x-forwarded-for'] = prior === undefined ? client : `${String(prior)}, ${client}`
  headers['x-forwarded-proto'] = 'encrypted' in req.socket ? 'https' : 'http'
  if (req.headers.host !== undefined) headers['x-forwarded-host'] = req.headers.host
  return headers
}

function connectionNamed(connection: string | undefined): Set<string> | undefined {
  if (connection === undefined) return undefined
  const names = connection
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== 'close' && name !== 'keep-alive' && name.length > 0)
  return names.length === 0 ? undefined : new Set(names)
}
