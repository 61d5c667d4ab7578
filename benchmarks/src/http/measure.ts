/**
 * Figures for the report and docs/http.md: HIT latency and throughput against
 * a bare node:http handler (same 2 KiB body, answering synchronously), the
 * first request after expiry, and a cold URL under 500 concurrent requests.
 * Loopback only, bounded in count and time.
 *
 *   pnpm exec tsc -b packages/http && node --import tsx benchmarks/src/http/measure.ts
 */
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TierCache } from '@tiercache/core'
import { cacheHttp, type HttpCacheValue } from '@tiercache/http'

const agent = new Agent({ keepAlive: true, maxSockets: 64 })
function get(port: number, path: string): Promise<{ ms: number; status: string }> {
  const t = performance.now()
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve({ ms: performance.now() - t, status: String(res.headers['x-cache']) }))
    })
      .on('error', reject)
      .end()
  })
}
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!
const body = 'x'.repeat(2048)
let originCalls = 0
let originDelay = 0
const origin = (_req: unknown, res: import('node:http').ServerResponse) => {
  originCalls++
  const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end(body)
  if (originDelay === 0) answer()
  else setTimeout(answer, originDelay)
}
async function serve(listener: Parameters<typeof createServer>[1]) {
  const server = createServer(listener as never)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, port: (server.address() as AddressInfo).port }
}

const cache = new TierCache<HttpCacheValue>({ name: 'measure' })
const cached = await serve(cacheHttp(origin, { cache, ttl: 1_000, staleTtl: 60_000 }))
const bare = await serve(origin)

// 1. Sequential latency: cache HIT vs the bare handler (no cache), 3000 requests each, after 300 warm-up.
for (const [name, port] of [
  ['bare handler', bare.port],
  ['cacheHttp HIT', cached.port],
] as const) {
  for (let i = 0; i < 300; i++) await get(port, '/hit')
  const ms: number[] = []
  for (let i = 0; i < 3000; i++) ms.push((await get(port, '/hit')).ms)
  console.log(`${name}: p50 ${pct(ms, 0.5).toFixed(3)} ms, p99 ${pct(ms, 0.99).toFixed(3)} ms (sequential, 3000 req)`)
}

// 2. Throughput with 32 concurrent connections for 3 s, HIT path.
for (const [name, port] of [
  ['bare handler', bare.port],
  ['cacheHttp HIT', cached.port],
] as const) {
  let n = 0
  const until = performance.now() + 3_000
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (performance.now() < until) {
        await get(port, '/hit')
        n++
      }
    }),
  )
  console.log(`${name}: ${(n / 3).toFixed(0)} req/s (32 connections, 3 s)`)
}

// 3. After expiry with a 1 000 ms origin: latency of the first and of 200 concurrent requests, and origin calls.
await get(cached.port, '/stale')
await new Promise((r) => setTimeout(r, 1_100))
originDelay = 1_000
const before = originCalls
const first = await get(cached.port, '/stale')
const burst = await Promise.all(Array.from({ length: 200 }, () => get(cached.port, '/stale')))
await new Promise((r) => setTimeout(r, 1_200))
console.log(
  `after expiry, origin 1000 ms: first request ${first.status} in ${first.ms.toFixed(2)} ms; 200 concurrent: p50 ${pct(
    burst.map((b) => b.ms),
    0.5,
  ).toFixed(
    2,
  )} ms, max ${Math.max(...burst.map((b) => b.ms)).toFixed(2)} ms, statuses ${[...new Set(burst.map((b) => b.status))]}; origin refreshes: ${originCalls - before}`,
)

// 4. Cold miss, 500 concurrent, origin 200 ms.
originDelay = 200
const c0 = originCalls
const cold = await Promise.all(Array.from({ length: 500 }, () => get(cached.port, '/cold')))
console.log(
  `cold URL, 500 concurrent, origin 200 ms: origin calls ${originCalls - c0}, p50 ${pct(
    cold.map((c) => c.ms),
    0.5,
  ).toFixed(1)} ms, max ${Math.max(...cold.map((c) => c.ms)).toFixed(1)} ms`,
)
process.exit(0)
