import type { IncomingMessage } from 'node:http'
import type { Origin, OriginRequest, OriginResponse } from '@tiercache/http'
import { Pool } from 'undici'
import type { RequestRecord } from './access-log.js'
import { forwardedHeaders } from './forwarded.js'

/** Request headers as sent to the origin. */
type Headers = Record<string, string | string[]>

/**
 * The origin, reached over a pool of keep-alive connections (undici `Pool`):
 * a miss costs a request on a warm connection, not a TCP handshake, which is
 * what nginx's `keepalive` in an `upstream` block buys.
 */
export class Upstream {
  readonly #pool: Pool
  readonly #host: string
  #inFlight = 0
  #idle: (() => void) | undefined

  constructor(origin: URL, connections: number) {
    this.#pool = new Pool(origin.origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 })
    this.#host = origin.host
  }

  /** Origin requests whose response has not ended yet (a refresh writes the cache after its end). */
  get inFlight(): number {
    return this.#inFlight
  }

  /** The cache's way to the origin; `timing` learns how long this client's trips took. */
  origin(req: IncomingMessage, timing: RequestRecord): Origin {
    return (request) => this.#send(request, forwardedHeaders(request.headers, req), timing)
  }

  /** Send a client request the cache does not keep (a bypass, a pass) and return the origin's response. */
  pass(req: IncomingMessage, timing: RequestRecord): Promise<OriginResponse> {
    const headers = forwardedHeaders(req.headers, req)
    const signal = new AbortController()
    req.once('close', () => {
      if (!req.complete) signal.abort()
    })
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
    return this.#dispatch(
      {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers,
        body: hasBody ? req : undefined,
        signal: signal.signal,
      },
      timing,
    )
  }

  /** Resolves once no origin request is in flight (for a graceful shutdown). */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.#idle = resolve
    })
  }

  /** Close the connections to the origin once their requests are done. */
  close(): Promise<void> {
    return this.#pool.close()
  }

  /** Cut every connection to the origin now: requests in flight fail, their bodies break off. */
  destroy(): void {
    this.#pool.destroy().catch(() => {})
  }

  #send(request: OriginRequest, headers: Headers, timing: RequestRecord): Promise<OriginResponse> {
    const body =
      request.body === undefined
        ? undefined
        : Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength)
    return this.#dispatch({ method: request.method, url: request.url, headers, body, signal: request.signal }, timing)
  }

  async #dispatch(
    request: {
      method: string
      url: string
      headers: Headers
      body: Buffer | IncomingMessage | undefined
      signal: AbortSignal
    },
    timing: RequestRecord,
  ): Promise<OriginResponse> {
    const started = performance.now()
    this.#inFlight++
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      timing.ms = performance.now() - started
      if (--this.#inFlight === 0) this.#idle?.()
    }
    try {
      const response = await this.#pool.request({
        method: request.method as 'GET',
        path: request.url,
        headers: { ...request.headers, host: this.#host },
        body: request.body,
        signal: request.signal,
      })
      const { body } = response
      body.once('end', end)
      body.once('close', end)
      body.once('error', end)
      return {
        status: response.statusCode,
        headers: response.headers,
        body: {
          [Symbol.asyncIterator]: () => body[Symbol.asyncIterator](),
          cancel: () => body.destroy(),
        },
      }
    } catch (error) {
      end()
      throw error
    }
  }
}
