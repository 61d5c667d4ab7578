import type { HeaderMap } from './headers.js'
import { HttpCache } from './http-cache.js'
import type { HttpCacheOptions } from './options.js'
import { type Origin, type OriginBody, originBody } from './origin.js'
import type { CacheStatus } from './reply.js'
import { type PassedResponse, serve } from './serve.js'

/** A fetch-style handler: Hono's `app.fetch`, a Web-standard server handler, or `fetch` itself towards an upstream. */
export type FetchHandler = (request: Request) => Response | Promise<Response>

/** A cached fetch-style handler with its cache engine attached. */
export interface CachedFetchHandler {
  (request: Request): Promise<Response>
  readonly httpCache: HttpCache
}

/**
 * Wrap a fetch-style handler (the origin) in an HTTP cache.
 *
 * @example
 * const app = new Hono().get('/hello', (c) => c.text('hi'))
 * export default { fetch: cacheFetch(app.fetch, { cache, ttl: 60_000, staleTtl: 300_000 }) }
 * // or as a caching reverse proxy with undici's fetch:
 * const proxy = cacheFetch((req) => fetch(new URL(new URL(req.url).pathname, upstream), req), { cache })
 */
export function cacheFetch(handler: FetchHandler, options: HttpCacheOptions | HttpCache): CachedFetchHandler {
  if (typeof handler !== 'function') throw new TypeError('handler must be a function (request) => Response')
  const engine = options instanceof HttpCache ? options : new HttpCache(options)
  const statusHeader = engine.options.statusHeader

  const pass = async (request: Request, status: CacheStatus, passed: PassedResponse | undefined) => {
    const response = await handler(request)
    await passed?.(response.status, responseHeaders(response.headers))
    if (statusHeader === undefined) return response
    // A fetched Response's headers are immutable: copy them.
    const headers = new Headers(response.headers)
    headers.set(statusHeader, status)
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
  }

  const cached = (request: Request): Promise<Response> => {
    const url = new URL(request.url)
    return serve(engine, {
      request: {
        method: request.method.toUpperCase(),
        host: url.host.toLowerCase(),
        url: url.pathname + url.search,
        headers: headerMap(request.headers, url.host),
      },
      origin: fetchOrigin(handler, url),
      // Read from a clone: `pass` still sends the original, body included.
      readBody: (limit) => {
        if (Number(request.headers.get('content-length') ?? 0) > limit) return Promise.resolve(undefined)
        return readBounded(request.clone().body, limit)
      },
      pass: (status, passed) => pass(request, status, passed),
      reply: (reply) => {
        const headers = new Headers()
        for (const [name, value] of Object.entries(reply.headers)) {
          for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one)
        }
        return new Response(webBody(reply.body), { status: reply.status, headers })
      },
    })
  }
  return Object.assign(cached, { httpCache: engine })
}

/** The handler as the cache's origin: a request of the cache's own, resolved against the client's URL. */
function fetchOrigin(handler: FetchHandler, base: URL): Origin {
  return async (request) => {
    const response = await handler(
      new Request(new URL(request.url, base), {
        method: request.method,
        headers: webHeaders(request.headers),
        body: request.body?.byteLength ? request.body : undefined,
        signal: request.signal,
      }),
    )
    const stream = response.body
    const headers = responseHeaders(response.headers)
    if (response.url !== '' && decodedByFetch(headers['content-encoding'])) {
      // A response from the network (`fetch`): fetch has decoded these content codings, but keeps
      // `Content-Encoding` and `Content-Length` as the upstream sent them. Left in place, the body runs past
      // the compressed length (a broken body: 502) and would be served labelled as still encoded.
      delete headers['content-encoding']
      delete headers['content-length']
    }
    return {
      status: response.status,
      headers,
      body: originBody(stream as AsyncIterable<Uint8Array> | null, () => void stream?.cancel().catch(() => {})),
    }
  }
}

/**
 * A request body of at most `limit` bytes, read from a clone; `undefined` past it. Read chunk by chunk and
 * let go of at the bound: a chunked upload declares no size, and reading it whole first would hold all of it
 * in memory (twice, with the clone's tee) before the bound is checked, or wait for ever on an upload that
 * stays open.
 */
async function readBounded(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array()
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const next = await reader.read()
    if (next.done) break
    size += next.value.byteLength
    if (size > limit) {
      void reader.cancel().catch(() => {})
      return undefined
    }
    chunks.push(next.value)
  }
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return bytes
}

/** The content codings `fetch` decodes (Fetch standard, undici): a list of only these is decoded whole. */
const FETCH_DECODES = new Set(['gzip', 'x-gzip', 'deflate', 'br'])

/** Whether a fetched response's `Content-Encoding` lists codings `fetch` has decoded (all known, at least one). */
function decodedByFetch(field: unknown): boolean {
  if (typeof field !== 'string') return false
  const codings = field
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding.length > 0)
  return codings.length > 0 && codings.every((coding) => FETCH_DECODES.has(coding))
}

/** Request headers as the cache reads them; `host` added from the URL, since fetch never carries it. */
function headerMap(headers: Headers, host: string): HeaderMap {
  const map: HeaderMap = { host }
  headers.forEach((value, name) => {
    map[name] = value
  })
  return map
}

/** Response headers with every `Set-Cookie` kept apart (they cannot be joined with commas). */
function responseHeaders(headers: Headers): Record<string, unknown> {
  const map: Record<string, unknown> = {}
  headers.forEach((value, name) => {
    if (name !== 'set-cookie') map[name] = value
  })
  const cookies = headers.getSetCookie()
  if (cookies.length > 0) map['set-cookie'] = cookies
  return map
}

function webHeaders(headers: HeaderMap): Headers {
  const out = new Headers()
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name === 'host' || name === 'connection') continue
    for (const one of Array.isArray(value) ? value : [value]) out.append(name, one)
  }
  return out
}

function webBody(body: Uint8Array | OriginBody | undefined): ConstructorParameters<typeof Response>[0] {
  if (body === undefined) return null
  if (body instanceof Uint8Array) return body
  const iterator = body[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next()
        if (next.done) controller.close()
        else controller.enqueue(next.value)
      } catch (error) {
        controller.error(error)
      }
    },
    cancel: () => body.cancel(),
  })
}
