import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import type { HeaderMap } from './headers.js'
import { HttpCache } from './http-cache.js'
import type { HttpCacheOptions } from './options.js'
import { type Origin, type OriginBody, originBody } from './origin.js'
import { type PassedResponse, serve } from './serve.js'

/** The parts of a Fastify instance the plugin uses (typed here so fastify stays an optional peer). */
interface FastifyLike {
  addHook(name: 'onRequest', hook: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>): unknown
  addHook(
    name: 'onSend',
    hook: (request: FastifyRequestLike, reply: FastifyReplyLike, payload: unknown) => Promise<unknown>,
  ): unknown
  inject(options: {
    method: string
    url: string
    headers: Record<string, string | string[]>
    payload?: Buffer
    payloadAsStream: true
    signal?: AbortSignal
  }): Promise<{ statusCode: number; headers: Record<string, unknown>; stream(): Readable }>
}

interface FastifyRequestLike {
  readonly method: string
  readonly url: string
  readonly headers: HeaderMap
}

interface FastifyReplyLike {
  code(status: number): FastifyReplyLike
  header(name: string, value: unknown): FastifyReplyLike
  send(payload?: unknown): FastifyReplyLike
  readonly statusCode: number
  getHeaders(): Record<string, unknown>
}

/** A Fastify plugin (encapsulation skipped, so it covers the whole app) with its cache engine attached. */
export interface CachePlugin {
  (fastify: FastifyLike, options: unknown, done: (error?: Error) => void): void
  readonly httpCache: HttpCache
}

/** Header that marks the cache's own injected requests; its value is a per-plugin secret, so clients cannot forge it. */
const SUBREQUEST_HEADER = 'x-tiercache-subrequest'

/**
 * A Fastify (5) plugin: every route's responses are cached. A miss or a
 * refresh is fetched with `fastify.inject` (a request of the cache's own
 * through the app, streamed), which the plugin lets through. Only methods
 * without a body are cached: Fastify parses bodies after `onRequest`.
 *
 * @example
 * await app.register(cacheFastify({ cache, ttl: 60_000, staleTtl: 300_000 }))
 */
export function cacheFastify(options: HttpCacheOptions | HttpCache): CachePlugin {
  const engine = options instanceof HttpCache ? options : new HttpCache(options)
  const secret = randomBytes(16).toString('base64url')
  const statusHeader = engine.options.statusHeader
  /** Passed requests whose response the cache wants to hear of. */
  const passedRequests = new WeakMap<FastifyRequestLike, PassedResponse>()

  const plugin = (fastify: FastifyLike, _options: unknown, done: (error?: Error) => void) => {
    const origin: Origin = async (request) => {
      const headers: Record<string, string | string[]> = { [SUBREQUEST_HEADER]: secret }
      for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers[name] = value
      const response = await fastify.inject({
        method: request.method,
        url: request.url,
        headers,
        payload: request.body === undefined ? undefined : Buffer.from(request.body),
        payloadAsStream: true,
        signal: request.signal,
      })
      const stream = response.stream()
      return {
        status: response.statusCode,
        headers: response.headers,
        body: originBody(stream, () => stream.destroy()),
      }
    }

    fastify.addHook('onRequest', async (request, reply) => {
      if (request.headers[SUBREQUEST_HEADER] !== undefined) {
        if (request.headers[SUBREQUEST_HEADER] === secret) {
          delete request.headers[SUBREQUEST_HEADER]
          return
        }
        delete request.headers[SUBREQUEST_HEADER]
      }
      return serve<FastifyReplyLike | undefined>(engine, {
        request: {
          method: request.method.toUpperCase(),
          host: String(request.headers.host ?? '').toLowerCase(),
          url: request.url,
          headers: request.headers,
        },
        origin,
        // Fastify parses bodies after `onRequest`: a method with one goes through uncached.
        readBody: async () => undefined,
        pass: (status, passed) => {
          if (statusHeader !== undefined) reply.header(statusHeader, status)
          if (passed !== undefined) passedRequests.set(request, passed)
          return undefined
        },
        reply: (answer) => {
          reply.code(answer.status)
          for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value)
          return reply.send(payloadOf(answer.body))
        },
      })
    })
    // Before the client hears of a passed response, the cache does (RFC 9111 §4.4 invalidation).
    fastify.addHook('onSend', async (request, reply, payload) => {
      await passedRequests.get(request)?.(reply.statusCode, reply.getHeaders())
      return payload
    })
    done()
  }
  // fastify-plugin's marker, without the dependency: the hook then applies to the whole app.
  Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'tiercache-http' })
  return Object.assign(plugin, { httpCache: engine })
}

function payloadOf(body: Uint8Array | OriginBody | undefined): Buffer | Readable | undefined {
  if (body === undefined) return undefined
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const stream = Readable.from(body)
  stream.once('close', () => body.cancel())
  return stream
}
