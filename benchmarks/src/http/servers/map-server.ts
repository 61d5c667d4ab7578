/**
 * The node:http ceiling (a child process): a bare server answering from a
 * `Map` filled from the origin on first use, no expiry. What any cache on
 * node:http could at best do per hit: it sends the same response a cache hit
 * of cacheHttp and tiercache-proxy sends (`Content-Type`, `Content-Length`,
 * `Age` once it is a second old, `X-Cache: HIT`, and node's `Date` and
 * keep-alive fields), but checks nothing: no method, `Host`, freshness or
 * request validation.
 *
 *   MAP_PORT=8081 ORIGIN_PORT=9999 node --import tsx map-server.ts
 */
import { createServer, get, type ServerResponse } from 'node:http'

const port = Number(process.env.MAP_PORT)
const originPort = Number(process.env.ORIGIN_PORT)
const entries = new Map<string, { body: Buffer; storedAt: number }>()

function fetchOrigin(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: originPort, path }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve(Buffer.concat(chunks)))
    }).on('error', reject)
  })
}

function answer(res: ServerResponse, body: Buffer, age: number): void {
  const headers: Record<string, string | number> = { 'content-type': 'text/plain', 'content-length': body.byteLength }
  if (age > 0) headers.age = age
  headers['x-cache'] = 'HIT'
  res.writeHead(200, headers)
  res.end(body)
}

createServer((req, res) => {
  const url = req.url ?? '/'
  const entry = entries.get(url)
  if (entry !== undefined) return answer(res, entry.body, Math.floor((Date.now() - entry.storedAt) / 1000))
  fetchOrigin(url).then((body) => {
    entries.set(url, { body, storedAt: Date.now() })
    answer(res, body, 0)
  })
}).listen(port, '127.0.0.1', () => process.send?.('ready'))
