/**
 * The library itself (a child process): `cacheHttp` around a handler that
 * fetches from the origin, in-memory store, the TTLs given. What an app that
 * embeds the cache gets, without the proxy's checks and log.
 *
 *   CACHE_PORT=8082 ORIGIN_PORT=9999 TTL_MS=2000 STALE_MS=600000 node --import tsx cache-http-server.ts
 */
import { createServer, get } from 'node:http'
import { TierCache } from '@tiercache/core'
import { cacheHttp, type HttpCacheValue } from '@tiercache/http'

const port = Number(process.env.CACHE_PORT)
const originPort = Number(process.env.ORIGIN_PORT)
const cache = new TierCache<HttpCacheValue>({ name: 'bench' })
const listener = cacheHttp(
  (req, res) => {
    get({ host: '127.0.0.1', port: originPort, path: req.url }, (origin) => {
      res.writeHead(origin.statusCode ?? 502, { 'content-type': String(origin.headers['content-type']) })
      origin.pipe(res)
    })
  },
  { cache, ttl: Number(process.env.TTL_MS), staleTtl: Number(process.env.STALE_MS) },
)
createServer(listener).listen(port, '127.0.0.1', () => process.send?.('ready'))
