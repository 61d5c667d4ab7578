import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { type LoaderContext, NOT_MODIFIED, TierCache } from '@tiercache/core'
import { RedisStore } from '@tiercache/redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildPackages, exitChild } from './fixtures/workers.js'

const REDIS_URL = 'redis://127.0.0.1:6379'
const PREFIX = 'tc-redis-cond:'
const root = fileURLToPath(new URL('../../', import.meta.url))
const workerFile = fileURLToPath(new URL('./fixtures/conditional-worker.ts', import.meta.url))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Doc {
  body: string
}

/** A child process with its own TierCache and RedisStore on the shared Redis. */
async function child(name: string) {
  const process = fork(workerFile, [REDIS_URL, PREFIX, name], {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const next = () => new Promise<Record<string, unknown>>((resolve) => process.once('message', resolve))
  await next()
  return {
    process,
    async ask(command: object) {
      const reply = next()
      process.send(command)
      return reply
    },
  }
}

describe('conditional refresh across processes on the shared Redis', () => {
  let store: RedisStore
  const children: ChildProcess[] = []
  beforeAll(() => {
    buildPackages()
    store = new RedisStore({ url: REDIS_URL, prefix: PREFIX })
  }, 120_000)
  afterAll(async () => {
    await Promise.all(children.map(exitChild))
    await store.close()
  })

  it("another process's loader sees the ETag this one stored, answers NOT_MODIFIED, and Redis's record is fresh again in place", async () => {
    const name = `cond-${randomUUID()}`
    const here = new TierCache<Doc>({ name, store, ttl: 300, staleTtl: 10_000 })
    await here.get('doc', (_key, ctx) => {
      ctx.meta = { etag: 'e1' }
      return { body: 'body-e1' }
    })
    await sleep(400)
    const before = await store.read(name, 'doc')
    expect(before.record!.freshMs).toBeLessThanOrEqual(0) // stale in Redis
    const other = await child(name)
    children.push(other.process)
    const reply = await other.ask({ type: 'get', key: 'doc', etag: 'e1' })
    expect(reply.seen).toEqual([{ etag: 'e1' }])
    expect(reply.info).toMatchObject({ value: { body: 'body-e1' }, stale: true })
    const after = await store.read(name, 'doc')
    expect(after.record!.freshMs).toBeGreaterThan(0) // fresh again (the child reports 200 ms after its read)
    expect(Buffer.from(after.record!.data!).equals(Buffer.from(before.record!.data!))).toBe(true)
    expect(after.version.split('.')[2]).toBe(before.version.split('.')[2]) // same record: touched, not rewritten
    here.close()
  })

  it('a NOT_MODIFIED answer never brings back a value another process set while the loader ran', async () => {
    const name = `cond-fence-${randomUUID()}`
    const here = new TierCache<Doc>({ name, store, ttl: 300, staleTtl: 10_000 })
    await here.get('doc', (_key, ctx) => {
      ctx.meta = { etag: 'e1' }
      return { body: 'body-e1' }
    })
    await sleep(400)
    const other = await child(name)
    children.push(other.process)
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let called = false
    let answered = false
    await here.get('doc', async (_key, ctx: LoaderContext<Doc>) => {
      called = true
      await gate
      answered = true
      return (ctx.staleMeta as { etag?: string }).etag === 'e1' ? NOT_MODIFIED : { body: 'unexpected' }
    })
    while (!called) await sleep(5)
    await other.ask({ type: 'set', key: 'doc', body: 'set-by-the-other-process' })
    release()
    while (!answered) await sleep(5)
    await sleep(100)
    const reader = new TierCache<Doc>({ name, store, lruSize: 0 })
    expect(await reader.get('doc')).toEqual({ body: 'set-by-the-other-process' })
    here.close()
  })
})
