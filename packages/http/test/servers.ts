import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Clock, TierCache } from '@tiercache/core'
import { cacheHttp, type HttpCacheOptions, type HttpCacheValue } from '@tiercache/http'

/** A server listening on 127.0.0.1 on a port the OS picked. */
export interface Listening {
  readonly url: string
  readonly port: number
  close(): Promise<void>
}

/** Start `listener` on 127.0.0.1:0. */
export async function listen(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening> {
  const server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** What a test client got back. */
export interface Got {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  /** Milliseconds from sending to the end of the body. */
  readonly ms: number
}

const agent = new Agent({ keepAlive: true, maxSockets: 1024 })

/** A plain node:http client, so tests can set any header (`Host` included), which fetch forbids. */
export function get(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Got> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          ms: performance.now() - started,
        }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

/** A programmable origin that counts what reaches it. */
export class TestOrigin {
  /** Requests that reached the origin, in order. */
  readonly seen: { method: string; url: string; headers: IncomingMessage['headers'] }[] = []
  status = 200
  body = 'v1'
  headers: Record<string, string | string[]> = { 'content-type': 'text/plain' }
  /** Milliseconds before answering. */
  delay = 0
  /** `throw`: the handler throws; `hang`: never answers. */
  mode: 'ok' | 'throw' | 'hang' = 'ok'
  /** Overrides the fixed answer. */
  respond: ((req: IncomingMessage, res: ServerResponse) => void) | undefined

  get count(): number {
    return this.seen.length
  }

  /**
   * Hold the `call`-th request (from 1): it renders `body` as it is when the
   * request arrives, and is sent when `publish()` is called. `arrived`
   * resolves once it has reached the origin. Other requests are answered at once.
   */
  hold(call: number): { arrived: Promise<void>; publish: () => void } {
    let publish = () => {}
    let arrive = () => {}
    const arrived = new Promise<void>((resolve) => {
      arrive = resolve
    })
    this.respond = (_req, res) => {
      const body = this.body
      const send = () => res.writeHead(this.status, this.headers).end(body)
      if (this.count !== call) return send()
      publish = send
      arrive()
    }
    return { arrived, publish: () => publish() }
  }

  readonly handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    if (this.delay > 0) await new Promise((resolve) => setTimeout(resolve, this.delay))
    if (this.mode === 'throw') throw new Error('origin is down')
    if (this.mode === 'hang') return
    if (this.respond !== undefined) return this.respond(req, res)
    res.writeHead(this.status, this.headers)
    res.end(this.body)
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A clock tests move by hand, starting at the wall clock (origins' `Date` and
 * `Expires` headers are wall-clock times). Given to the `TierCache`, it is the
 * HTTP cache's time too, so expiry needs no sleeping.
 */
export class TestClock implements Clock {
  t = Date.now()
  now(): number {
    return this.t
  }
  advance(ms: number): void {
    this.t += ms
  }
}

/** A TierCache for responses, on the in-memory store, with its clock moved by hand. */
export function clockedCache(name = `http-${Math.random()}`) {
  const clock = new TestClock()
  return { cache: new TierCache<HttpCacheValue>({ name, clock }), clock }
}

/** Resolves when `cache` next stores a loader's value (a fill, a refresh, a renewal landing). */
export function nextLoad(cache: TierCache<HttpCacheValue>): Promise<unknown> {
  return new Promise((resolve) => cache.once('load', resolve))
}

/** Resolves when a load of `cache` next fails (e.g. a background refresh against a failing origin). */
export function nextLoadFailure(cache: TierCache<HttpCacheValue>): Promise<unknown> {
  return new Promise((resolve) => cache.once('error', resolve))
}

const running: Listening[] = []

/** Close every server `start` opened (use in `afterEach`). */
export async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((server) => server.close()))
}

/** `cacheHttp` over `origin` on a fresh in-memory TierCache, listening on 127.0.0.1:0. */
export async function start(origin: TestOrigin, options: Partial<HttpCacheOptions> = {}) {
  const { cache, clock } = clockedCache()
  const listener = cacheHttp(origin.handler, { cache, ttl: 60_000, ...options })
  const server = await listen(listener)
  running.push(server)
  return { url: server.url, listener, cache, clock, httpCache: listener.httpCache }
}

/** Serve a fetch-style handler over node:http (what @hono/node-server does), for the fetch integration's tests. */
export function fetchListener(handler: (request: Request) => Promise<Response>) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value)
    }
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined
    const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body })
    const response = await handler(request)
    res.statusCode = response.status
    response.headers.forEach((value, name) => {
      if (name !== 'set-cookie') res.setHeader(name, value)
    })
    const cookies = response.headers.getSetCookie()
    if (cookies.length > 0) res.setHeader('set-cookie', cookies)
    if (response.body === null) return void res.end()
    for await (const chunk of response.body) res.write(chunk)
    res.end()
  }
}
