/**
 * `node --import tsx src/profile-target.ts <target> [seconds] [out.cpuprofile]`:
 * runs one contender's hot loop alone for a few seconds and, given a file
 * name, writes a CPU profile of the timed loop only (started after preload
 * and warm-up, unlike `node --cpu-prof`), so it shows the hot path's costs. Targets: `l1` (tiercache L1 hit), `l1-lru` (`await lru.get(k)`), `l2` (tiercache
 * Redis hit, L1 off), `l2-raw` (ioredis GET + JSON.parse), `many` (getMany of
 * 100 keys), `singles` (100 gets at once); `-ap` turns on auto-pipelining. Expects the
 * Redis at REDIS_PORT (default 6379), keys under the `tcbench:profile:` prefix.
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { createTiercache } from './contenders/tiercache.js'
import { keyNames } from './data/access-pattern.js'
import { makeValue } from './data/value.js'
import { keyIndex } from './scenarios/contenders.js'

const target = process.argv[2] ?? 'l2'
const seconds = Number(process.argv[3] ?? 5)
const port = Number(process.env.REDIS_PORT ?? 6379)
const prefix = 'tcbench:profile:'
const loader = async (key: string) => makeValue(keyIndex(key))
const keys = keyNames('p:', target.startsWith('l1') ? 10_000 : 1000)

let op: () => Promise<unknown>
let close = async () => {}
let i = 0
const next = (): string => {
  i = (i + 1) % keys.length
  return keys[i]!
}
if (target === 'l1-lru') {
  const { LRUCache } = await import('lru-cache')
  const lru = new LRUCache<string, object>({ max: 16_384 })
  for (const k of keys) lru.set(k, makeValue(keyIndex(k)))
  op = async () => lru.get(next())
} else if (target === 'l2-raw') {
  const client = new Redis({ port })
  for (const k of keys) await client.set(prefix + k, JSON.stringify(makeValue(keyIndex(k))))
  op = async () => JSON.parse((await client.get(prefix + next()))!)
  close = async () => void client.disconnect()
} else {
  const tiers = target === 'l1' ? 'memory' : 'redis'
  const adapter = await createTiercache({
    tiers,
    redis: { host: '127.0.0.1', port, prefix, autoPipelining: target.endsWith('-ap') },
    namespace: 'profile',
    lruSize: 16_384,
    ttlMs: 3_600_000,
    loader,
    // CODEC=json | msgpack-maps: the core codec to profile with (default: the core's msgpackCodec()).
    ...(process.env.CODEC ? { codec: process.env.CODEC as 'json' | 'msgpack-maps' } : {}),
  })
  for (const k of keys) await adapter.get(k)
  const batch = () => Array.from({ length: 100 }, next)
  op =
    target === 'many'
      ? () => adapter.getMany!(batch())
      : target.startsWith('singles')
        ? () => Promise.all(batch().map((k) => adapter.get(k)))
        : () => adapter.get(next())
  close = () => adapter.close()
}
for (let j = 0; j < 5000; j++) await op()
const out = process.argv[4]
const session = out ? new Session() : undefined
if (session) {
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 100 })
  await session.post('Profiler.start')
}
const end = performance.now() + seconds * 1000
let n = 0
// IN_FLIGHT=64 keeps that many calls in flight (closed loop), as the l2-hit scenario does.
const inFlight = Number(process.env.IN_FLIGHT ?? 1)
const cpu = process.cpuUsage()
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      await op()
      n++
    }
  }),
)
const used = process.cpuUsage(cpu)
if (session && out) {
  const { profile } = await session.post('Profiler.stop')
  writeFileSync(out, JSON.stringify(profile))
}
console.log(
  `${target}: ${((n / seconds) | 0).toLocaleString()} ops/s, CPU ${((used.user + used.system) / n).toFixed(1)} µs/op, ${n} ops`,
)
await close()
