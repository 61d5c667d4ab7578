/**
 * A reverse proxy built from `cacheHttp`, in front of the cache-tests origin
 * server, so the public suite can grade tiercache as it grades nginx or Varnish.
 *
 *   tsx benchmarks/http-standards/proxy.ts --port 8100 --origin http://127.0.0.1:8000 --policy rfc9111
 *
 * The cache is a `TierCache` on a `MemoryStore`: the suite tests HTTP semantics,
 * not the shared store, and each run must start empty.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { MemoryStore, TierCache } from '@tiercache/core'
import { cacheHttp, type HttpCacheOptions, type HttpCacheValue } from '../../packages/http/src/index.js'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8100' },
    origin: { type: 'string', default: 'http://127.0.0.1:8000' },
    policy: { type: 'string', default: 'rfc9111' },
  },
})
const origin = new URL(values.origin)

/**
 * Forward one request to the origin; response header lines are relayed as sent
 * (repeated fields stay repeated), `Connection` included, so that the cache
 * itself must drop the fields it lists (RFC 9110 §7.6.1).
 */
function forward(req: IncomingMessage, res: ServerResponse): void {
  let answered = false
  const upstream = request(
    // A fresh connection per request: the suite's origin sends deliberately odd responses (bodies on
    // 304s, bad lengths) that would desynchronise a kept-alive connection for the next test.
    { host: origin.hostname, port: origin.port, method: req.method, path: req.url, headers: req.headers, agent: false },
    (answer) => {
      answered = true
      // Read the whole answer, then write it at once: the capture is not ours to stress here.
      const chunks: Buffer[] = []
      let size = 0
      const finish = () => {
        if (res.destroyed || res.writableEnded) return
        res.statusCode = answer.statusCode ?? 502
        const out: Record<string, string[]> = {}
        for (let i = 0; i < answer.rawHeaders.length; i += 2) {
          const name = answer.rawHeaders[i]!.toLowerCase()
          out[name] = [...(out[name] ?? []), answer.rawHeaders[i + 1]!]
        }
        for (const [name, list] of Object.entries(out)) {
          if (name === 'transfer-encoding' || name === 'keep-alive') continue
          res.setHeader(name, list.length === 1 ? list[0]! : list)
        }
        const declared = Number(answer.headers['content-length'])
        const body = Buffer.concat(chunks)
        res.end(Number.isInteger(declared) ? body.subarray(0, declared) : body)
      }
      answer.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        size += chunk.byteLength
      })
      answer.on('end', finish)
      // Bytes past the declared Content-Length make Node's parser fail: serve the declared ones, as nginx does.
      // (The parser fails before the parsed bytes are emitted: look once they have been.)
      const failed = () =>
        setImmediate(() => (size >= Number(answer.headers['content-length']) ? finish() : res.destroy()))
      answer.on('error', failed)
      upstream.on('error', failed)
    },
  )
  upstream.on('information', (info) => {
    // Relay interim responses when the response object can (Node's writeEarlyHints for 103).
    if (info.statusCode === 103 && typeof res.writeEarlyHints === 'function') {
      const hints: Record<string, string | string[]> = {}
      for (const [name, value] of Object.entries(info.headers)) if (value !== undefined) hints[name] = value
      res.writeEarlyHints(hints as never)
    }
  })
  upstream.on('error', () => {
    if (answered || res.headersSent || res.writableEnded || res.destroyed) return
    res.statusCode = 502
    res.end()
  })
  req.pipe(upstream)
}

const options = {
  cache: new TierCache<HttpCacheValue>({ name: 'cache-tests', store: new MemoryStore() }),
  methods: ['GET', 'HEAD'],
  statusHeader: false,
  ...(values.policy === 'rfc9111'
    ? { policy: 'rfc9111' }
    : values.policy === 'respect'
      ? { respectCacheControl: true }
      : {}),
} as HttpCacheOptions
const server = createServer(cacheHttp(forward, options))
server.listen(Number(values.port), '127.0.0.1', () => {
  console.error(`tiercache (${values.policy}) on 127.0.0.1:${values.port} -> ${origin.href}`)
})
