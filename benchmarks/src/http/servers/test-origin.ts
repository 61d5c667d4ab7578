/**
 * The benchmark's origin (a child process): answers every path with a 2 KiB
 * body naming the current version, after `ORIGIN_LATENCY_MS`. The version
 * steps every `ORIGIN_VERSION_MS` (0 = never), counted from the start.
 * `GET /__stats` answers the request count and the time of each request.
 *
 *   ORIGIN_PORT=9999 ORIGIN_LATENCY_MS=50 ORIGIN_VERSION_MS=5000 node --import tsx test-origin.ts
 */
import { createServer } from 'node:http'

const port = Number(process.env.ORIGIN_PORT ?? 9999)
const latency = Number(process.env.ORIGIN_LATENCY_MS ?? 0)
const versionMs = Number(process.env.ORIGIN_VERSION_MS ?? 0)
const started = Date.now()
const filler = 'x'.repeat(2048)
/** Wall-clock ms of every request (not /__stats). */
const requests: number[] = []

const version = (now: number): number => (versionMs === 0 ? 1 : 1 + Math.floor((now - started) / versionMs))

createServer((req, res) => {
  if (req.url === '/__stats') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ started, versionMs, count: requests.length, requests }))
    return
  }
  const at = Date.now()
  requests.push(at)
  const body = `v${version(at)}\n${filler}`
  const send = () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }
  if (latency > 0) setTimeout(send, latency)
  else send()
}).listen(port, '127.0.0.1', () => process.send?.('ready'))
