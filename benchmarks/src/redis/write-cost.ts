/**
 * What a write costs Redis itself, per write, for the variants of RedisStore's
 * write path: server CPU (used_cpu_user + used_cpu_sys), the time Redis spent
 * in the commands (INFO commandstats), memory kept per key, and the client's
 * round trip. On a private redis-server (7300-7399, see harness/redis-server.ts),
 * so other traffic does not count. Sequential writes of 1,000 distinct keys.
 *
 *   node --import tsx benchmarks/src/redis/write-cost.ts
 */
import { randomUUID } from 'node:crypto'
import { RedisStore } from '@tiercache/redis'
import { Redis } from 'ioredis'
import { startRedis } from '../harness/redis-server.js'

const N = 20_000
const KEYS = 1_000
const FENCE_MS = 60_000
const server = await startRedis()
const client = new Redis({ host: server.host, port: server.port })
const admin = new Redis({ host: server.host, port: server.port })
const store = new RedisStore({ client, prefix: server.prefix, fenceMs: FENCE_MS })
const value = new Uint8Array(100).fill(7)

interface Stats {
  cpuMs: number
  commandUs: number
  memory: number
}

async function stats(): Promise<Stats> {
  const info = await admin.info('all')
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0)
  // Top-level calls only: the commands a script runs are counted under their own names as well.
  let commandUs = 0
  for (const match of info.matchAll(/^cmdstat_(\w+):calls=\d+,usec=(\d+)/gm)) {
    if (['evalsha', 'eval', 'publish', 'spublish'].includes(match[1]!)) commandUs += Number(match[2])
  }
  return {
    cpuMs: (field('used_cpu_user') + field('used_cpu_sys')) * 1_000,
    commandUs,
    memory: field('used_memory'),
  }
}

async function measure(name: string, write: (ns: string, key: string) => Promise<unknown>): Promise<void> {
  const ns = `cost-${randomUUID()}`
  for (let i = 0; i < 500; i++) await write(ns, `warm${i % 10}`)
  await admin.config('RESETSTAT')
  const before = await stats()
  const samples: number[] = []
  for (let i = 0; i < N; i++) {
    const started = performance.now()
    await write(ns, `k${i % KEYS}`)
    samples.push(performance.now() - started)
  }
  const after = await stats()
  samples.sort((a, b) => a - b)
  const p50 = (samples[Math.floor(samples.length / 2)]! * 1_000).toFixed(0)
  const perWrite = (ms: number) => ((ms * 1_000) / N).toFixed(1)
  console.log(
    `${name.padEnd(52)} server CPU ${perWrite(after.cpuMs - before.cpuMs).padStart(5)} µs/write` +
      `   in commands ${((after.commandUs - before.commandUs) / N).toFixed(1).padStart(5)} µs/write` +
      `   memory ${(((after.memory - before.memory) / KEYS) | 0).toString().padStart(4)} B/key` +
      `   round trip p50 ${p50.padStart(4)} µs`,
  )
}

console.log(`redis ${server.version}, ${N} sequential writes of ${KEYS} keys, 100-byte values, fenceMs ${FENCE_MS}`)
await measure('set kept ≥ fenceMs (no version key)', (ns, key) =>
  store.set(ns, key, { data: value, freshMs: 120_000, keepMs: 120_000 }),
)
await measure('set kept < fenceMs (version key kept fenceMs)', (ns, key) =>
  store.set(ns, key, { data: value, freshMs: 30_000, keepMs: 30_000 }),
)
await store.close()
client.disconnect()
admin.disconnect()
await server.stop()
