/**
 * The node-handler capture behind `cacheHttp` / `cacheExpress` (`nodeOrigin`)
 * against `light-my-request` (Fastify's `inject`, streamed), on the paths a
 * capture is on: a MISS (the origin runs) and a HIT (it does not), through one
 * and the same listener on `HttpCache.handle`, so only the origin differs.
 * Also the capture alone, in-process. 2 KiB body, loopback, keep-alive,
 * rounds alternating the two; medians over rounds.
 *
 *   pnpm exec tsc -b packages/http && node --import tsx benchmarks/src/http/capture.ts
 */
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TierCache } from '@tiercache/core'
import { HttpCache, type HttpCacheValue, nodeOrigin, type Origin } from '@tiercache/http'
import inject from 'light-my-request'

const ROUNDS = 5
const REQUESTS = 2_000
const body = 'x'.repeat(2048)
const handler = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/plain' }).end(body)
}

/** `light-my-request` as an `Origin`: the handler on an injected request, its body streamed. */
function lightMyRequestOrigin(dispatch: typeof handler): Origin {
  return async (origin) => {
    const headers: Record<string, string | string[]> = {}
    for (const [name, value] of Object.entries(origin.headers)) if (value !== undefined) headers[name] = value
    const response = await inject(dispatch, {
      method: origin.method as 'GET',
      url: origin.url,
      headers,
      payloadAsStream: true,
      signal: origin.signal,
    })
    const stream = response.stream()
    return {
      status: response.statusCode,
      headers: response.headers,
      body: { [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator](), cancel: () => stream.destroy() },
    }
  }
}

const origins: Record<string, Origin> = {
  'nodeOrigin (hand-written capture)': nodeOrigin(handler),
  'light-my-request 6.6.0': lightMyRequestOrigin(handler),
}

/** One listener for both: the engine's answer written as is, so only the origin differs. */
async function serve(origin: Origin): Promise<number> {
  const cache = new TierCache<HttpCacheValue>({ name: `capture-${Math.random()}`, lruSize: 100_000 })
  const engine = new HttpCache({ cache, ttl: 600_000 })
  const server = createServer(async (req, res) => {
    const method = req.method ?? 'GET'
    const cacheRequest = { method, host: req.headers.host ?? '', url: req.url ?? '/', headers: req.headers }
    const outcome = await engine.handle(cacheRequest, origin)
    if (outcome.kind === 'pass' || !(outcome.body === undefined || outcome.body instanceof Uint8Array)) {
      throw new Error(`expected a cached reply, got ${outcome.kind}`)
    }
    res.statusCode = outcome.status
    for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value)
    res.end(outcome.body)
  })
  // The in-process rounds leave the connection idle for seconds: keep it open across them.
  server.keepAliveTimeout = 600_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  server.unref()
  return (server.address() as AddressInfo).port
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 })
function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(String(res.headers['x-cache'])))
    })
      .on('error', reject)
      .end()
  })
}

/** Median µs per request of `REQUESTS` sequential requests, each checked for the expected status. */
async function timeRequests(port: number, path: (i: number) => string, expect: string): Promise<number> {
  const ms: number[] = []
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now()
    const status = await get(port, path(i))
    ms.push(performance.now() - started)
    if (status !== expect) throw new Error(`expected ${expect}, got ${status}`)
  }
  return median(ms) * 1000
}

/** Median µs of one capture alone: the origin called and its body read, in-process. */
async function timeCapture(origin: Origin): Promise<number> {
  const ms: number[] = []
  for (let i = 0; i < REQUESTS * 2; i++) {
    // A signal per call, as the cache gives each load its own origin timeout.
    const signal = new AbortController().signal
    const started = performance.now()
    const response = await origin({ method: 'GET', url: `/c/${i}`, host: 'h', headers: {}, signal })
    for await (const _ of response.body);
    ms.push(performance.now() - started)
  }
  return median(ms) * 1000
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function run(): Promise<void> {
  const ports = Object.fromEntries(
    await Promise.all(Object.entries(origins).map(async ([name, origin]) => [name, await serve(origin)] as const)),
  )
  const results: Record<string, { miss: number[]; hit: number[]; capture: number[] }> = {}
  for (const name of Object.keys(origins)) results[name] = { miss: [], hit: [], capture: [] }
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so neither always runs first in a round.
    const names = Object.keys(origins)
    if (round % 2 === 1) names.reverse()
    for (const name of names) {
      const port = ports[name]!
      results[name]!.miss.push(await timeRequests(port, (i) => `/miss/${round}/${i}`, 'MISS'))
      await get(port, '/hit')
      results[name]!.hit.push(await timeRequests(port, () => '/hit', 'HIT'))
      results[name]!.capture.push(await timeCapture(origins[name]!))
    }
  }
  console.log(`median of ${ROUNDS} rounds; µs per request (each round: the median of ${REQUESTS} sequential)`)
  for (const [name, r] of Object.entries(results)) {
    const line = `MISS ${median(r.miss).toFixed(1)}  HIT ${median(r.hit).toFixed(1)}  capture alone ${median(r.capture).toFixed(1)}`
    console.log(`${name.padEnd(36)} ${line}`)
  }
}

await run()
agent.destroy()
