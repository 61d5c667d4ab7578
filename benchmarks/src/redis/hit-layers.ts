/**
 * Where a Redis hit's time goes, layer by layer, in ONE process on the shared
 * Redis at 127.0.0.1:6379 (keys under their own prefix, deleted at the end):
 *
 * - `raw`: ioredis `GET` + `JSON.parse`, the l2-hit scenario's baseline;
 * - `raw GET alone`: the same without the `JSON.parse` (what the parse costs);
 * - `bare MGET + decode`: ioredis `MGET` of a generation key and msgpack bytes,
 *   decoded by the default codec: the wire work of a stamped read with none of
 *   the store's checks, the floor any store read of this format stands on;
 * - `store.read`: RedisStore's read of one key (guard, MGET, envelope), no decode;
 * - `store.read + decode`: the same and the default codec's decode of the value;
 * - `cache.get`: `TierCache.get(key, loader)` with `lruSize: 0`, what users call.
 *
 * Each round runs every layer once, for ROUND_MS each, in a new random order,
 * after a forced GC; the ratio column is the median over rounds of each
 * layer's CPU per op divided by raw's in the same round, beside the bytes each
 * op allocated on the JS heap and the collections per 10k ops (from
 * `v8.GCProfiler`). Machine noise moves
 * whole rounds, so same-round ratios are steadier than the absolute figures;
 * read differences under about 5 % as noise. The gap between two neighbouring
 * layers is what the upper one adds.
 *
 *   IN_FLIGHT=1 node --expose-gc --import tsx benchmarks/src/redis/hit-layers.ts
 */
import { randomUUID } from 'node:crypto'
import { GCProfiler } from 'node:v8'
import { msgpackCodec, TierCache } from '@tiercache/core'
import { RedisStore } from '@tiercache/redis'
import { Redis } from 'ioredis'
import { makeValue } from '../data/value.js'

const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 1)
const ROUND_MS = Number(process.env.ROUND_MS ?? 500)
const ROUNDS = Number(process.env.ROUNDS ?? 14)
const KEYS = 1_000

const prefix = `tc-hit-layers:${randomUUID()}:`
const raw = new Redis({ host: '127.0.0.1', port: 6379 })
const client = new Redis({ host: '127.0.0.1', port: 6379 })
const store = new RedisStore({ client, prefix: `${prefix}tc:` })
const codec = msgpackCodec()
const cache = new TierCache<unknown>({ name: 'layers', lruSize: 0, ttl: 600_000, store })
const keys = Array.from({ length: KEYS }, (_, i) => `l2:${i}`)
const loader = async (key: string) => makeValue(Number(key.slice(3)))
for (const key of keys) {
  await raw.set(`${prefix}msgpack:${key}`, Buffer.from(codec.encode(await loader(key))), 'PX', 600_000)
  await raw.set(`${prefix}raw:${key}`, JSON.stringify(await loader(key)), 'PX', 600_000)
  await cache.get(key, loader)
}

let i = 0
const next = () => {
  i = (i + 1) % KEYS
  return keys[i]!
}
const layers: Record<string, () => Promise<unknown>> = {
  raw: async () => JSON.parse((await raw.get(`${prefix}raw:${next()}`))!),
  'raw GET alone': () => raw.get(`${prefix}raw:${next()}`),
  'bare MGET + decode': () =>
    raw.mgetBuffer(`${prefix}generation`, `${prefix}msgpack:${next()}`).then(([, bytes]) => codec.decode(bytes!)),
  'store.read': () => store.read('layers', next()),
  'store.read + decode': () =>
    store.read('layers', next()).then((read) => read.record?.data && codec.decode(read.record.data)),
  'cache.get': () => cache.get(next(), loader),
}
const names = Object.keys(layers)

interface Round {
  readonly opsPerSec: number
  readonly cpuUsPerOp: number
  /** JS heap bytes allocated per op: growth of the used heap plus what each collection freed. */
  readonly bytesPerOp: number
  /** Collections per 10k ops: scavenges, and mark-compacts (which cost far more). */
  readonly scavenges: number
  readonly markCompacts: number
}

async function round(op: () => Promise<unknown>, ms: number): Promise<Round> {
  let n = 0
  const end = performance.now() + ms
  const profiler = new GCProfiler()
  profiler.start()
  const usedAtStart = process.memoryUsage().heapUsed
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < end) {
        await op()
        n++
      }
    }),
  )
  const { user, system } = process.cpuUsage(cpu)
  const usedAtEnd = process.memoryUsage().heapUsed
  const collections = profiler.stop()?.statistics ?? []
  let freed = 0
  for (const c of collections) freed += c.beforeGC.heapStatistics.usedHeapSize - c.afterGC.heapStatistics.usedHeapSize
  const per10k = (kind: string) => (collections.filter((c) => c.gcType === kind).length * 10_000) / n
  return {
    opsPerSec: (n / (performance.now() - started)) * 1_000,
    cpuUsPerOp: (user + system) / n,
    bytesPerOp: (usedAtEnd - usedAtStart + freed) / n,
    scavenges: per10k('Scavenge'),
    markCompacts: per10k('MarkSweepCompact'),
  }
}

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) console.error('warning: run with node --expose-gc so GC runs between rounds')
for (const name of names) await round(layers[name]!, 300) // warm-up: scripts loaded, JIT settled
const rounds = new Map<string, Round[]>(names.map((name) => [name, []]))
for (let r = 0; r < ROUNDS; r++) {
  for (const name of [...names].sort(() => Math.random() - 0.5)) {
    gc?.()
    rounds.get(name)!.push(await round(layers[name]!, ROUND_MS))
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const base = rounds.get('raw')!
console.log(`Redis hit, 1 KB object, ${IN_FLIGHT} in flight, ${ROUNDS} rounds of ${ROUND_MS} ms (medians)`)
for (const name of names) {
  const rs = rounds.get(name)!
  const opsRatio = median(rs.map((x, k) => x.opsPerSec / base[k]!.opsPerSec))
  const cpuRatio = median(rs.map((x, k) => x.cpuUsPerOp / base[k]!.cpuUsPerOp))
  console.log(
    `${name.padEnd(20)} ${median(rs.map((x) => x.opsPerSec))
      .toFixed(0)
      .padStart(7)} ops/s ` +
      `${median(rs.map((x) => x.cpuUsPerOp))
        .toFixed(1)
        .padStart(6)} µs CPU/op   ` +
      `× raw: ops ${opsRatio.toFixed(2)}  CPU ${cpuRatio.toFixed(2)}   ` +
      `${median(rs.map((x) => x.bytesPerOp))
        .toFixed(0)
        .padStart(6)} B/op  GC per 10k ops: ` +
      `${median(rs.map((x) => x.scavenges)).toFixed(1)} scavenges, ${median(rs.map((x) => x.markCompacts)).toFixed(2)} mark-compacts`,
  )
}

cache.close()
await store.close()
for (const key of await raw.keys(`${prefix}*`)) await raw.del(key)
client.disconnect()
raw.disconnect()
