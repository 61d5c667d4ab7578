// One node of the propagation measurement: its own L1 (TierCache), the shared
// RedisStore and a RedisPubSubIpc, in a process of its own. Driven by
// propagation.ts over the IPC channel of child_process.
//
//   writer: sets `key` to 1, 2, ... count at a steady rate; reports when each set started and finished.
//   reader: reads `key` continuously (every ~1 ms); reports, per version seen, when it was first returned and
//           when the last read that returned it started.
import { TierCache } from '@tiercache/core'
import { RedisPubSubIpc } from '@tiercache/ipc'
import { RedisStore } from '@tiercache/redis'
import { Redis } from '../../packages/ipc/test/redis-server.js'
import type { NodeConfig, NodeMessage, ParentMessage, Segment } from './propagation-protocol.js'

const config = JSON.parse(process.argv[2]!) as NodeConfig
const send = (message: NodeMessage) => process.send!(message)
/** Wall-clock ms with sub-ms resolution, comparable across processes of one host. */
const now = () => performance.timeOrigin + performance.now()

const redisOptions = { host: '127.0.0.1', port: config.port }
const publisher = new Redis({ ...redisOptions, connectionName: `ipc-${config.name}-pub` })
const subscriber = new Redis({
  ...redisOptions,
  connectionName: `ipc-${config.name}-sub`,
  // The kill test keeps the subscriber away longer than maxStaleness, so the bound is what protects readers.
  retryStrategy: () => config.subscriberRetryMs,
})
const store = new RedisStore({ client: publisher, prefix: 'ipc-propagation:' })
const ipc = new RedisPubSubIpc({
  publisher,
  subscriber,
  channel: 'ipc-propagation',
  maxStalenessMs: config.maxStalenessMs,
})
const events = { disconnected: 0, reconnected: 0, gaps: 0, errors: 0 }
ipc.on('disconnected', () => events.disconnected++)
ipc.on('reconnected', () => events.reconnected++)
ipc.on('gap', () => events.gaps++)
ipc.on('error', () => events.errors++)
// A long TTL: without the bus, readers would serve a version for a minute.
const cache = new TierCache<number>({ name: config.namespace, store, ipc, ttl: 60_000 })

let stopped = false

process.on('message', (message: ParentMessage) => {
  if (message.type === 'start') void write()
  if (message.type === 'stop') stopped = true
})

while (!ipc.isLive(config.namespace)) await sleep(5)
send({ type: 'ready' })
if (config.role === 'reader') await read()

async function write(): Promise<void> {
  const sets: [version: number, startedAt: number, doneAt: number][] = []
  const begin = now()
  for (let version = 1; version <= config.count; version++) {
    // Steady rate: each set is scheduled from the start, so a slow one does not shift the rest.
    const due = begin + version * config.intervalMs
    if (due > now()) await sleep(due - now())
    const startedAt = now()
    await cache.set(config.key, version)
    sets.push([version, startedAt, now()])
    if (version === config.blockAfterVersion) {
      // A loop blocked right after set resolved (a long sync computation, a GC pause): whatever
      // the set had to send must already be sent.
      const until = now() + (config.blockMs ?? 0)
      while (now() < until) {}
    }
  }
  send({ type: 'written', sets })
  await finish()
}

async function read(): Promise<void> {
  const segments: Segment[] = []
  let current: Segment | undefined
  while (!stopped) {
    // The staleness bound concerns gets that START after a set resolved: a read already under way when
    // this process was paused may come back after the pause with what it found before it.
    const startedAt = now()
    const version = (await cache.get(config.key)) ?? 0
    const at = now()
    if (current === undefined || current[0] !== version) {
      current = [version, at, startedAt]
      segments.push(current)
    } else current[2] = startedAt
    await sleep(1)
  }
  send({ type: 'read', segments, events })
  await finish()
}

async function finish(): Promise<void> {
  cache.close()
  await ipc.close()
  await store.close()
  publisher.disconnect()
  subscriber.disconnect()
  process.disconnect()
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
