// One node of writer-killed.test.ts, in a process of its own: a TierCache on a RedisStore and a
// RedisPubSubIpc that share one connection, as docs/ipc.md sets them up.
//
//   writer: runs the set/delete/purge the parent asks for. With `die`, and only when the parent armed
//           it through TIERCACHE_TEST_KILL_AFTER_STORE_WRITE=1, the process SIGKILLs itself the moment
//           the store call resolved: the write reached Redis, and no line of the cache ran after it
//           (no publish of its own). The hook lives in this fixture only, around the store it hands
//           the cache; no library code path has it.
//   reader: reads the key every ~2 ms and tells the parent each time the value it gets changes.
import { type SharedStore, TierCache } from '@tiercache/core'
import { RedisPubSubIpc } from '@tiercache/ipc'
import { RedisStore } from '@tiercache/redis'
import { Redis } from '../../packages/ipc/test/redis-server.js'

export interface KilledNodeConfig {
  readonly role: 'writer' | 'reader'
  readonly port: number
  readonly namespace: string
  readonly key: string
  readonly maxStalenessMs: number
}

/** Parent → node. */
export type KilledParentMessage =
  | { type: 'write'; op: 'set' | 'delete' | 'purge'; value?: string; die: boolean }
  | { type: 'stop' }

/** Node → parent. `value` null: the read returned nothing. `at`: epoch ms. */
export type KilledNodeMessage =
  | { type: 'ready' }
  | { type: 'written' }
  | { type: 'seen'; value: string | null; at: number }

const config = JSON.parse(process.argv[2]!) as KilledNodeConfig
const send = (message: KilledNodeMessage) => process.send!(message)
const now = () => performance.timeOrigin + performance.now()

const connection = new Redis({ host: '127.0.0.1', port: config.port })
const subscriber = new Redis({ host: '127.0.0.1', port: config.port })
const redisStore = new RedisStore({ client: connection, prefix: 'writer-killed:' })
const ipc = new RedisPubSubIpc({
  publisher: connection,
  subscriber,
  channel: 'writer-killed',
  maxStalenessMs: config.maxStalenessMs,
})
ipc.on('error', () => {})

const armed = config.role === 'writer' && process.env.TIERCACHE_TEST_KILL_AFTER_STORE_WRITE === '1'
let dieAfterStoreWrite = false
/** The RedisStore, except that set/delete/purge kill this process once they resolved, when asked to. */
const store = new Proxy(redisStore, {
  get(target, property) {
    const member = Reflect.get(target, property, target)
    if (typeof member !== 'function') return member
    if (armed && (property === 'set' || property === 'delete' || property === 'purge')) {
      return async (...args: unknown[]) => {
        const result = await (member as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        if (dieAfterStoreWrite) process.kill(process.pid, 'SIGKILL')
        return result
      }
    }
    return member.bind(target)
  },
}) as SharedStore
// A minute of L1 TTL: without an invalidation, readers would serve their copy that long.
const cache = new TierCache<string>({ name: config.namespace, store, ipc, ttl: 60_000 })
cache.on('error', () => {})

let stopped = false
process.on('message', (message: KilledParentMessage) => {
  if (message.type === 'stop') stopped = true
  else void write(message)
})

while (!ipc.isLive(config.namespace)) await sleep(5)
send({ type: 'ready' })
if (config.role === 'reader') await read()

async function write(message: Extract<KilledParentMessage, { type: 'write' }>): Promise<void> {
  dieAfterStoreWrite = message.die
  if (message.op === 'set') await cache.set(config.key, message.value!)
  else if (message.op === 'delete') await cache.delete(config.key)
  else await cache.purge()
  send({ type: 'written' })
}

async function read(): Promise<void> {
  let last: string | null | undefined
  while (!stopped) {
    const value = (await cache.get(config.key)) ?? null
    if (value !== last) {
      last = value
      send({ type: 'seen', value, at: now() })
    }
    await sleep(2)
  }
  cache.close()
  await ipc.close()
  connection.disconnect()
  subscriber.disconnect()
  process.disconnect()
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
