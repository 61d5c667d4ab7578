import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { type InvalidationBus, type SharedStore, TierCache } from '@tiercache/core'
import {
  type CacheRequest,
  type Exchange,
  type FreshHit,
  fromNodeRequest,
  HttpCache,
  type HttpCacheValue,
  readNodeBody,
  replyFromOrigin,
  serve,
  writeFreshHit,
  writeNodeReply,
} from '@tiercache/http'
import { RedisPubSubIpc } from '@tiercache/ipc'
import { RedisStore } from '@tiercache/redis'
import { Redis } from 'ioredis'
import { AccessLog } from './access-log.js'
import { admin } from './admin.js'
import type { ProxyConfig } from './config.js'
import { ProxyResponse } from './proxy-response.js'
import { absoluteTarget, type Rejection, rejection } from './request-checks.js'
import { Upstream } from './upstream.js'

/** A running `tiercache-proxy`: its server, its cache, and a graceful `close`. */
export interface Proxy {
  readonly server: Server
  readonly httpCache: HttpCache
  /** Where it listens (the port is the one bound, when the config said 0). */
  readonly address: AddressInfo
  /**
   * Stop accepting connections, let requests in flight finish (up to the
   * config's `shutdownTimeout`), wait for origin fetches that will write the
   * cache, then close the cache, the store, the bus and the origin pool.
   */
  close(): Promise<void>
}

/** The shared tier and bus of a proxy: in memory, or Redis for a cluster. */
interface Tiers {
  readonly store: SharedStore | undefined
  readonly ipc: InvalidationBus | undefined
  close(): Promise<void>
}

/**
 * Start a caching reverse proxy in front of `config.origin`.
 *
 * @example
 * const proxy = await startProxy(parseConfig(['--origin', 'http://127.0.0.1:9999', '--port', '8080']))
 * process.once('SIGTERM', () => proxy.close())
 */
export async function startProxy(config: ProxyConfig): Promise<Proxy> {
  const tiers = await connectTiers(config)
  const cache = new TierCache<HttpCacheValue>({ name: config.name, store: tiers.store, ipc: tiers.ipc })
  // Purge by tag is the core's deleteTag on `cache`: tag states live next to the responses.
  const engine = new HttpCache({
    cache,
    ttl: config.ttl,
    staleTtl: config.stale,
    staleIfError: config.staleIfError,
    policy: config.policy,
  })
  const upstream = new Upstream(config.origin, config.originConnections)
  const log = new AccessLog(config.accessLog)
  const adminPrefix = config.adminPath
  let draining = false
  const adminContext = { engine, purgeToken: config.purgeToken, draining: () => draining, origin: config.origin }

  /** Shared by every response (`this`): one log line once it closed, finished or cut. */
  function logClosed(this: ProxyResponse): void {
    log.write(this.req, this, this)
  }

  const server = createServer<typeof IncomingMessage, typeof ProxyResponse>(
    { keepAliveTimeout: 65_000, ServerResponse: ProxyResponse },
    (req, res) => {
      if (log.enabled) {
        res.startedAt = performance.now()
        res.on('close', logClosed)
      }
      if (draining) res.shouldKeepAlive = false

      const rejected = rejection(req)
      if (rejected !== undefined) return refuse(res, rejected)
      // OPTIONS * asks about the server, not a resource (RFC 9110 §9.3.7): answered here, as no origin path names it.
      if (req.url === '*') return noContent(res)
      if (req.url?.[0] !== '/') {
        // Absolute-form (RFC 9112 §3.2.2): its authority is the Host, the rest the target; the log keeps the original.
        const target = absoluteTarget(req.url ?? '')!
        res.target = req.url
        req.url = target.path
        req.headers.host = target.authority
      }
      const url = req.url
      if (
        url.startsWith(adminPrefix) &&
        (url.length === adminPrefix.length || url[adminPrefix.length] === '/' || url[adminPrefix.length] === '?')
      ) {
        const path = url.slice(adminPrefix.length).split('?')[0]!
        admin(req, res, path, adminContext).catch((error: unknown) => failed(res, error))
        return
      }
      // The hot path first: a fresh L1 hit written at once with its prebuilt head; anything else takes the full flow.
      const request = fromNodeRequest(req)
      let hit: FreshHit | undefined
      try {
        hit = engine.freshHit(request)
        if (hit !== undefined) {
          // writeHead with a list leaves nothing for getHeader: the log learns the status from here.
          res.cacheStatus = 'HIT'
          res.bytes = hit.body?.byteLength ?? 0
          writeFreshHit(res, hit)
        }
      } catch (error) {
        return failed(res, error)
      }
      if (hit === undefined) full(req, res, request)
    },
  )

  // CONNECT (authority-form, RFC 9112 §3.2.3) asks for a tunnel, which a reverse proxy does not offer.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.end('HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
  })

  function full(req: IncomingMessage, res: ProxyResponse, request: CacheRequest): void {
    serve(engine, exchange(req, res, request)).catch((error: unknown) => failed(res, error))
  }

  /** One client request as the cache's request flow sees it. */
  function exchange(req: IncomingMessage, res: ProxyResponse, request: CacheRequest): Exchange<void> {
    return {
      request,
      origin: upstream.origin(req, res),
      readBody: (limit) => readNodeBody(req, limit),
      replaySignal: () => {
        const controller = new AbortController()
        res.once('close', () => controller.abort())
        return controller.signal
      },
      pass: async (cacheStatus, passed) => {
        const response = await upstream.pass(req, res)
        // The cache hears of a passed response before the client does: under `rfc9111` a POST/PUT/DELETE
        // removes what it changed (RFC 9111 §4.4), so the client's next GET is not served the old version.
        await passed?.(response.status, response.headers)
        const at = {
          method: request.method,
          requestHeaders: request.headers,
          statusHeader: engine.options.statusHeader,
        }
        await writeNodeReply(res, replyFromOrigin(response.status, response.headers, response.body, cacheStatus, at))
      },
      reply: (reply) => writeNodeReply(res, reply),
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => {
      server.off('error', reject)
      resolve()
    })
  })

  let closing: Promise<void> | undefined
  const close = async () => {
    draining = true
    const deadline = performance.now() + config.shutdownTimeout
    const left = () => Math.max(0, deadline - performance.now())
    // 1. Stop accepting; idle keep-alive connections go now, busy ones after their response
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    // A keep-alive connection whose response ends during the drain turns idle: close those as they come.
    const sweep = setInterval(() => server.closeIdleConnections(), 50)
    server.closeIdleConnections()
    // 2. Requests in flight finish, within the timeout; then what is left is cut
    if (!(await within(closed, left()))) server.closeAllConnections()
    clearInterval(sweep)
    // 3. Origin fetches still running (background refreshes, fetches of cut requests) complete and write the
    //    cache, within what is left of the timeout; then they are cut, and a cut response is stored nowhere
    //    (its body is short of what the origin announced: the capture fails it, as any broken body).
    const idle = await within(upstream.idle(), left())
    if (!idle) upstream.destroy()
    // 4. The loads behind those fetches write what they will (a cut one: nothing) and release their locks, so
    //    no other node waits out a lease; a second at least, as cut loads need a round trip to let go.
    await within(cache.idle(), Math.max(left(), 1_000))
    // 5. Let go of the cache, the store, the bus and the origin pool
    engine.close()
    cache.close()
    await tiers.close()
    if (idle) await upstream.close()
    // 6. The last log lines, unless stdout's reader stalled past the timeout
    await within(log.close(), Math.max(left(), 1_000))
  }
  return {
    // Its responses are ProxyResponses, which are ServerResponses: callers see the plain type.
    server: server as unknown as Server,
    httpCache: engine,
    address: server.address() as AddressInfo,
    close: () => {
      closing ??= close()
      return closing
    },
  }
}

async function connectTiers(config: ProxyConfig): Promise<Tiers> {
  if (config.redis === undefined) return { store: undefined, ipc: undefined, close: async () => undefined }
  const store = new RedisStore({ url: config.redis })
  const publisher = new Redis(config.redis, { lazyConnect: false })
  const subscriber = new Redis(config.redis, { lazyConnect: false })
  const ipc = new RedisPubSubIpc({ publisher, subscriber, channel: `${config.name}:invalidations` })
  return {
    store,
    ipc,
    close: async () => {
      await ipc.close()
      await store.close()
      await Promise.all([publisher.quit().catch(() => undefined), subscriber.quit().catch(() => undefined)])
    },
  }
}

/** Whether `promise` settled within `ms`. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    void promise.then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** Answer a request RFC 9112 says to refuse, and close the connection: what follows it cannot be trusted. */
function refuse(res: ServerResponse, { status, reason }: Rejection): void {
  res.shouldKeepAlive = false
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
  res.end(`${STATUS_CODES[status]}: ${reason}\n`)
}

function noContent(res: ServerResponse): void {
  res.writeHead(204)
  res.end()
}

/** Last resort when serving threw: a 502 if nothing was sent yet, else a cut connection. */
function failed(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy(error instanceof Error ? error : undefined)
    return
  }
  res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' })
  res.end('Bad Gateway\n')
}
