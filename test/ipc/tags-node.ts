// Process A of the multi-process tag test (tags.test.ts): one TierCache on the
// shared Redis (RedisStore + RedisPubSubIpc), driven over the IPC channel of
// child_process. Its loader tags every value `t` and answers A1, A2, ...; a
// `slow` get's loader waits for the parent's `release` before it answers.
import { TierCache } from '@tiercache/core'
import { RedisPubSubIpc } from '@tiercache/ipc'
import { RedisStore } from '@tiercache/redis'
import { Redis } from '../../packages/ipc/test/redis-server.js'

export interface TagsNodeConfig {
  readonly port: number
  readonly prefix: string
  readonly name: string
  readonly maxStalenessMs: number
}

export type TagsParentMessage =
  | { type: 'get'; id: number; key: string; loader: 'none' | 'fast' | 'slow' }
  | { type: 'release' }
  | { type: 'exit' }

export type TagsNodeMessage =
  | { type: 'ready' }
  | { type: 'loading'; key: string }
  | { type: 'got'; id: number; value?: string; hitLevel: number; stale: boolean; error?: string }

const config = JSON.parse(process.argv[2]!) as TagsNodeConfig
const send = (message: TagsNodeMessage) => process.send!(message)

const redis = { host: '127.0.0.1', port: config.port }
const publisher = new Redis({ ...redis, connectionName: `tags-${config.name}-a-pub` })
const subscriber = new Redis({ ...redis, connectionName: `tags-${config.name}-a-sub` })
const store = new RedisStore({ client: publisher, prefix: config.prefix })
const ipc = new RedisPubSubIpc({
  publisher,
  subscriber,
  channel: `${config.prefix}bus`,
  maxStalenessMs: config.maxStalenessMs,
})
const cache = new TierCache<string>({ name: config.name, store, ipc, ttl: 60_000, staleTtl: 60_000 })

let loads = 0
const releases: (() => void)[] = []

process.on('message', (message: TagsParentMessage) => {
  if (message.type === 'exit') {
    cache.close()
    void ipc.close().finally(() => {
      publisher.disconnect()
      subscriber.disconnect()
      process.exit(0)
    })
    return
  }
  if (message.type === 'release') {
    for (const open of releases.splice(0)) open()
    return
  }
  const { id, key, loader } = message
  const load =
    loader === 'none'
      ? undefined
      : async (k: string, ctx: { tags: string[] }) => {
          send({ type: 'loading', key: k })
          if (loader === 'slow') await new Promise<void>((resolve) => releases.push(resolve))
          ctx.tags = ['t']
          return `A${++loads}`
        }
  cache.getWithInfo(key, load).then(
    (got) => send({ type: 'got', id, value: got.value, hitLevel: got.hitLevel, stale: got.stale }),
    (error: unknown) => send({ type: 'got', id, hitLevel: 0, stale: false, error: String(error) }),
  )
})

// Ready once the bus is subscribed: the parent's first operation must reach us.
const waitLive = setInterval(() => {
  if (!ipc.isLive(config.name)) return
  clearInterval(waitLive)
  send({ type: 'ready' })
}, 5)
