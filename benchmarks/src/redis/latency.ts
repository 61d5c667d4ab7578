/**
 * Round-trip cost of RedisStore against a plain ioredis GET, on the shared
 * Redis at 127.0.0.1:6379 (keys under its own prefix, deleted afterwards by expiry).
 * Sequential calls, so the figures are latencies, not throughput.
 *
 *   node --import tsx benchmarks/src/redis/latency.ts
 */
import { randomUUID } from 'node:crypto'
import { RedisStore } from '@tiercache/redis'
import { Redis } from 'ioredis'

const N = 3_000
const client = new Redis({ host: '127.0.0.1', port: 6379 })
const store = new RedisStore({ client, prefix: 'tc-redis-bench:' })
const ns = `bench-${randomUUID()}`
const value = new Uint8Array(1_024).fill(7)

async function measure(name: string, op: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 200; i++) await op() // warm-up: scripts loaded, JIT settled
  const samples: number[] = []
  for (let i = 0; i < N; i++) {
    const started = performance.now()
    await op()
    samples.push(performance.now() - started)
  }
  samples.sort((a, b) => a - b)
  const at = (q: number) => (samples[Math.floor(q * (samples.length - 1))]! * 1_000).toFixed(0).padStart(5)
  console.log(`${name.padEnd(50)} p50 ${at(0.5)} µs   p99 ${at(0.99)} µs   (n=${N})`)
}

await store.set(ns, 'k', { data: value, freshMs: 60_000, keepMs: 120_000 })
await client.set(`tc-redis-bench:raw-${ns}`, Buffer.from(value), 'PX', 120_000)
const keys = Array.from({ length: 100 }, (_, i) => `k${i}`)
await store.setMany(
  ns,
  keys.map((key) => [key, { data: value, freshMs: 60_000, keepMs: 120_000 }] as const),
)

await measure('ioredis GET (1 KiB), baseline', () => client.getBuffer(`tc-redis-bench:raw-${ns}`))
await measure('RedisStore.get (1 KiB, gen+value+PTTL in 1 call)', () => store.get(ns, 'k'))
await measure('RedisStore.get of a missing key', () => store.get(ns, 'missing'))
await measure('RedisStore.set (1 KiB)', () => store.set(ns, 'w', { data: value, freshMs: 60_000, keepMs: 120_000 }))
await measure('RedisStore.getMany (100 × 1 KiB)', () => store.getMany(ns, keys))
await measure('lock acquire + release', async () => {
  const token = await store.lock.acquire(ns, 'lock', 5_000)
  await store.lock.release(ns, 'lock', token!)
})
await store.purge(ns)
await store.close()
client.disconnect()
