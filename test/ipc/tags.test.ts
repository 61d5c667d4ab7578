// Tags across processes on real Redis: process A (tags-node.ts) tags and reads,
// this process (B) runs deleteTag/invalidateTag; A must see each within
// maxStaleness. And the race across processes: a load A started before B's
// deleteTag, finishing after it, leaves nothing that A or B serve.
import { type ChildProcess, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { TierCache } from '@tiercache/core'
import { RedisPubSubIpc } from '@tiercache/ipc'
import { RedisStore } from '@tiercache/redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from '../../packages/ipc/test/redis-server.js'
import type { TagsNodeConfig, TagsNodeMessage, TagsParentMessage } from './tags-node.js'

const NODE = fileURLToPath(new URL('./tags-node.ts', import.meta.url))
const TSCONFIG = fileURLToPath(new URL('./tsconfig.json', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const MAX_STALENESS_MS = 500
/** Slack for timers on a busy 2-core machine, as in the staleness tests. */
const SLACK_MS = 250

const id = randomBytes(4).toString('hex')
const config: TagsNodeConfig = {
  port: 6379,
  prefix: `tags-mp-${id}:`,
  name: `tags-mp-${id}`,
  maxStalenessMs: MAX_STALENESS_MS,
}

let child: ChildProcess
let publisher: Redis
let subscriber: Redis
let ipc: RedisPubSubIpc
let b: TierCache<string>
let nextId = 0
const waiting = new Map<number, (message: Extract<TagsNodeMessage, { type: 'got' }>) => void>()
let loadings = 0

/** A get on process A. */
function getOnA(key: string, loader: 'none' | 'fast' | 'slow') {
  const n = ++nextId
  return new Promise<Extract<TagsNodeMessage, { type: 'got' }>>((resolve) => {
    waiting.set(n, resolve)
    child.send({ type: 'get', id: n, key, loader } satisfies TagsParentMessage)
  })
}

/** Poll A with gets until `done` holds; the ms it took from `since`. */
async function untilOnA(
  key: string,
  loader: 'none' | 'fast',
  done: (got: Extract<TagsNodeMessage, { type: 'got' }>) => boolean,
  since: number,
) {
  for (;;) {
    const got = await getOnA(key, loader)
    if (done(got)) return { got, ms: performance.now() - since }
    if (performance.now() - since > 5_000) throw new Error(`A never saw it: last ${JSON.stringify(got)}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

beforeAll(async () => {
  child = fork(NODE, [JSON.stringify(config)], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`process A exited (${code})`)))
    child.on('message', (message: TagsNodeMessage) => {
      if (message.type === 'ready') resolve()
      else if (message.type === 'loading') loadings++
      else if (message.type === 'got') {
        waiting.get(message.id)?.(message)
        waiting.delete(message.id)
      }
    })
  })
  publisher = new Redis({ host: '127.0.0.1', port: config.port, connectionName: `tags-${id}-b-pub` })
  subscriber = new Redis({ host: '127.0.0.1', port: config.port, connectionName: `tags-${id}-b-sub` })
  const store = new RedisStore({ client: publisher, prefix: config.prefix })
  ipc = new RedisPubSubIpc({ publisher, subscriber, channel: `${config.prefix}bus`, maxStalenessMs: MAX_STALENESS_MS })
  b = new TierCache<string>({ name: config.name, store, ipc, ttl: 60_000, staleTtl: 60_000 })
  await ready
}, 30_000)

afterAll(async () => {
  await new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.send({ type: 'exit' } satisfies TagsParentMessage)
  })
  b.close()
  await ipc.close()
  const keys = await publisher.keys(`${config.prefix}*`)
  if (keys.length > 0) await publisher.del(...keys)
  publisher.disconnect()
  subscriber.disconnect()
})

describe('tags across processes on real Redis', () => {
  it('A sees B’s invalidateTag (stale, then refreshed) and deleteTag (a miss) within maxStaleness', {
    timeout: 30_000,
  }, async () => {
    expect(await getOnA('k', 'fast')).toMatchObject({ value: 'A1', hitLevel: 3 })
    expect(await getOnA('k', 'fast')).toMatchObject({ value: 'A1', hitLevel: 1 })

    await b.invalidateTag('t')
    const invalidated = performance.now()
    // Within the bound, A serves A1 stale (its stale window) while it refreshes, then A2.
    const stale = await untilOnA('k', 'fast', (got) => got.stale || got.value !== 'A1', invalidated)
    expect(stale.got).toMatchObject({ value: 'A1', stale: true })
    const refreshed = await untilOnA('k', 'fast', (got) => got.value === 'A2' && !got.stale, invalidated)
    expect(await b.get('k')).toBe('A2')

    await b.deleteTag('t')
    const deleted = performance.now()
    // B itself: a miss at once. A: a miss within the bound, never served stale.
    expect(await b.get('k')).toBeUndefined()
    const miss = await untilOnA('k', 'none', (got) => got.value === undefined, deleted)
    expect((await getOnA('k', 'none')).value).toBeUndefined()
    console.log(
      'tag propagation (ms):',
      JSON.stringify({ invalidateSeen: stale.ms, refreshed: refreshed.ms, deleteSeen: miss.ms }),
    )
    expect(stale.ms).toBeLessThan(MAX_STALENESS_MS + SLACK_MS)
    expect(miss.ms).toBeLessThan(MAX_STALENESS_MS + SLACK_MS)
  })

  it('a load A started before B’s deleteTag, finishing after it, is served as fresh by neither process', {
    timeout: 30_000,
  }, async () => {
    const before = loadings
    const slow = getOnA('race', 'slow')
    while (loadings === before) await new Promise((resolve) => setTimeout(resolve, 2))
    await b.deleteTag('t')
    child.send({ type: 'release' } satisfies TagsParentMessage)
    // Its own caller overlapped the delete and may have its value; nobody else may.
    expect((await slow).value).toMatch(/^A\d+$/)
    expect(await b.get('race')).toBeUndefined()
    expect((await getOnA('race', 'none')).value).toBeUndefined()
  })
})
