/**
 * What a write costs Redis itself, per write, for the variants of RedisStore's
 * write path (the version key of a short-lived record; the invalidation sent by
 * the writer or by the write script): server CPU (used_cpu_user + used_cpu_sys), the time Redis spent
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

let scripted = true

async function stats(): Promise<Stats> {
  const info = await admin.info('all')
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0)
  // Top-level calls only: the commands a script runs are counted under their own names as well.
  let commandUs = 0
  for (const match of info.matchAll(/^cmdstat_(\w+):calls=\d+,usec=(\d+)/gm)) {
    if (['evalsha', 'eval'].includes(match[1]!)) commandUs += Number(match[2])
    // A PUBLISH the client sent; one run from a script is inside evalsha's time already.
    if (match[1] === 'publish' && !scripted) commandUs += Number(match[2])
  }
  return {
    cpuMs: (field('used_cpu_user') + field('used_cpu_sys')) * 1_000,
    commandUs,
    memory: field('used_memory'),
  }
}

interface Figures {
  cpuUs: number
  commandUs: number
  bytesPerKey: number
  p50Us: number
}

async function measure(write: (ns: string, key: string) => Promise<unknown>): Promise<Figures> {
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
  return {
    cpuUs: ((after.cpuMs - before.cpuMs) * 1_000) / N,
    commandUs: (after.commandUs - before.commandUs) / N,
    bytesPerKey: (after.memory - before.memory) / KEYS,
    p50Us: samples[Math.floor(samples.length / 2)]! * 1_000,
  }
}

/** Variants in turn, ROUNDS times; each figure is the lowest of its rounds (the least disturbed by other load). */
const ROUNDS = 3
const variants: { name: string; scripted: boolean; write: (ns: string, key: string) => Promise<unknown> }[] = []
async function run(): Promise<void> {
  const best = variants.map(() => ({ cpuUs: Infinity, commandUs: Infinity, bytesPerKey: Infinity, p50Us: Infinity }))
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, variant] of variants.entries()) {
      scripted = variant.scripted
      const figures = await measure(variant.write)
      for (const field of Object.keys(figures) as (keyof Figures)[]) {
        best[i]![field] = Math.min(best[i]![field], figures[field])
      }
    }
  }
  for (const [i, variant] of variants.entries()) {
    const { cpuUs, commandUs, bytesPerKey, p50Us } = best[i]!
    console.log(
      `${variant.name.padEnd(60)} server CPU ${cpuUs.toFixed(1).padStart(5)} µs/write` +
        `   in commands ${commandUs.toFixed(1).padStart(5)} µs/write` +
        `   memory ${Math.round(bytesPerKey).toString().padStart(4)} B/key` +
        `   round trip p50 ${p50Us.toFixed(0).padStart(4)} µs`,
    )
  }
}

console.log(
  `redis ${server.version}, ${N} sequential writes of ${KEYS} keys, 100-byte values, fenceMs ${FENCE_MS}, best of ${ROUNDS} rounds`,
)
const kept = { data: value, freshMs: 120_000, keepMs: 120_000 }
variants.push(
  { name: 'set kept ≥ fenceMs (no version key)', scripted: true, write: (ns, key) => store.set(ns, key, kept) },
  {
    name: 'set kept < fenceMs (version key kept fenceMs)',
    scripted: true,
    write: (ns, key) => store.set(ns, key, { data: value, freshMs: 30_000, keepMs: 30_000 }),
  },
)

// The invalidation of a user's set, with two other nodes subscribed to the channel: sent by the
// writer after the write (one PUBLISH per set: a set waits for its publish), or by the write script.
const channel = `${server.prefix}bus:users`
const subscribers = [0, 1].map(() => new Redis({ host: server.host, port: server.port }))
for (const subscriber of subscribers) await subscriber.subscribe(channel)
const message = Buffer.alloc(60, 1) // the size of one set's message (msgpack, node id, one key)
const announce = { via: client, channel, message, sharded: false }
variants.push(
  {
    name: 'set kept ≥ fenceMs, then the writer PUBLISHes (2 subscribers)',
    scripted: false,
    write: async (ns, key) => {
      await store.set(ns, key, kept)
      await client.publish(channel, message)
    },
  },
  {
    name: 'set kept ≥ fenceMs, PUBLISH in its script (2 subscribers)',
    scripted: true,
    write: (ns, key) => store.set(ns, key, { ...kept, announce }),
  },
)
await run()
for (const subscriber of subscribers) subscriber.disconnect()
await store.close()
client.disconnect()
admin.disconnect()
await server.stop()
