import { randomUUID } from 'node:crypto'
import { StoreCallError } from '@tiercache/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, redisCli, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { RedisStore, type RedisStoreOptions } from '../src/index.js'

const bytes = (...values: number[]) => Uint8Array.from(values)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const write = (value: number) => ({ data: bytes(value), freshMs: 60_000, keepMs: 60_000 })
const storedByte = async (store: RedisStore, n: string, key: string) => (await store.get(n, key))?.data?.[0]

async function rejection(call: Promise<unknown>): Promise<unknown> {
  try {
    await call
  } catch (error) {
    return error
  }
  throw new Error('expected the call to reject')
}

// A server of our own on 7040 that the tests freeze with SIGSTOP.
describe('a call the store gave up on never runs later (own server on 127.0.0.1:7040)', () => {
  let server: RedisServer
  const stores: RedisStore[] = []
  const open = (options: Partial<RedisStoreOptions> = {}) => {
    const client = new Redis(server.port, '127.0.0.1')
    client.on('error', () => {}) // expected while frozen
    const store = new RedisStore({ client, ...options })
    stores.push(store)
    return store
  }
  const frozen = async <T>(run: () => Promise<T>, ms: number): Promise<T> => {
    process.kill(server.pid, 'SIGSTOP')
    try {
      return await run()
    } finally {
      setTimeout(() => process.kill(server.pid, 'SIGCONT'), ms)
      await sleep(ms + 50)
    }
  }

  beforeAll(async () => {
    server = await startRedisServer(7040)
  })
  afterAll(async () => {
    for (const store of stores) {
      await store.close()
      store.client.disconnect()
    }
    await server.stop()
  })

  it('a write abandoned on a frozen server is refused by Redis when it finally arrives', async () => {
    const store = open()
    const n = `given-up-${randomUUID()}`
    await store.set(n, 'k', write(1))
    const error = await frozen(async () => rejection(store.set(n, 'k', write(2))), 1_000)
    expect(error).toBeInstanceOf(StoreCallError)
    expect(error).toMatchObject({ kind: 'timeout', outcome: 'unknown' })
    await sleep(200)
    // Redis ran the write after the freeze, past its deadline: it did nothing.
    expect(await storedByte(store, n, 'k')).toBe(1)
  })

  it('a write stuck in the offline queue of a connecting client cannot land after a newer write', async () => {
    const writer = open({ commandTimeoutMs: 5_000 })
    const n = `offline-queue-${randomUUID()}`
    await writer.set(n, 'k', write(1))
    const { newer } = await frozen(async () => {
      // Connects while the server is frozen: the kernel accepts, the ready check waits,
      // so ioredis holds the write in its offline queue until the server wakes.
      const late = open()
      expect(late.client.status).not.toBe('ready')
      const error = await rejection(late.set(n, 'k', write(2)))
      expect(error).toMatchObject({ kind: 'timeout', outcome: 'unknown' })
      // Given up: a newer write by another process, which lands first when the server wakes.
      return { newer: writer.set(n, 'k', write(3)) }
    }, 1_000)
    expect((await newer).applied).toBe(true)
    await sleep(300) // the late client is ready by now and has flushed its queue
    expect(stores.at(-1)!.client.status).toBe('ready')
    expect(await storedByte(writer, n, 'k')).toBe(3)
  })

  it('a lock acquire abandoned during a 1 s freeze leaves no orphan lock', async () => {
    const holder = open()
    const other = open()
    const n = `orphan-${randomUUID()}`
    await holder.get(n, 'warm-up') // a connection that learned Redis's clock
    const error = await frozen(() => rejection(holder.lock.acquire(n, 'k', 5_000)), 1_000)
    expect(error).toMatchObject({ kind: 'timeout', outcome: 'unknown' })
    await sleep(100)
    const lockKeys = await redisCli(server.port, '--scan', '--pattern', `*${n}*lock*`)
    expect(lockKeys.trim()).toBe('')
    // The next miss elsewhere takes the lock at once instead of waiting out the 5 s lease.
    const started = performance.now()
    expect(await other.lock.waitForRelease(n, 'k', 5_000)).toBe(true)
    const token = await other.lock.acquire(n, 'k', 5_000)
    expect(typeof token).toBe('string')
    expect(performance.now() - started).toBeLessThan(200)
  })

  // The faults suite, CLIENT KILL TYPE normal: callers waited the full lockWait (5 s) for a lock
  // an acquire took after all, its reply lost with its connection.
  it('a lock acquire whose reply never came is released as soon as Redis answers again', async () => {
    const holder = open({ commandTimeoutMs: 100 })
    const other = open()
    const n = `lost-reply-${randomUUID()}`
    await holder.get(n, 'warm-up')
    // Replies wait unread in the socket: Redis runs the acquire (the lock lands), its caller never hears.
    const socket = (holder.client as unknown as { stream: NodeJS.ReadableStream }).stream
    socket.pause()
    let error: unknown
    try {
      error = await rejection(holder.lock.acquire(n, 'k', 10_000))
    } finally {
      socket.resume()
    }
    expect(error).toMatchObject({ kind: 'timeout', outcome: 'unknown' })
    // Nobody uses that lock: another process takes it at once, not after the 10 s lease.
    const started = performance.now()
    expect(await other.lock.waitForRelease(n, 'k', 3_000)).toBe(true)
    expect(typeof (await other.lock.acquire(n, 'k', 10_000))).toBe('string')
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  // The faults suite, CLIENT KILL TYPE normal (after the fix above): a release refused while its client
  // reconnected left the lock to nobody, and callers still waited the full lockWait.
  it('a release refused while the client reconnects is sent again once it is back', async () => {
    const holder = open()
    const other = open()
    const n = `release-refused-${randomUUID()}`
    const token = await holder.lock.acquire(n, 'k', 10_000)
    expect(typeof token).toBe('string')
    const id = await (holder.client as Redis).client('ID')
    await other.client.call('CLIENT', 'KILL', 'ID', String(id))
    for (let i = 0; i < 100 && holder.client.status === 'ready'; i++) await sleep(1)
    expect(holder.client.status).not.toBe('ready')
    await expect(holder.lock.release(n, 'k', token!)).rejects.toMatchObject({ outcome: 'not-applied' })
    const started = performance.now()
    expect(await other.lock.waitForRelease(n, 'k', 3_000)).toBe(true)
    expect(performance.now() - started).toBeLessThan(1_500)
  })

  it('a purge stuck in the offline queue does not hide a newer write when it finally arrives', async () => {
    const writer = open({ commandTimeoutMs: 5_000 })
    const n = `purge-late-${randomUUID()}`
    await writer.set(n, 'k', write(1))
    const { newer } = await frozen(async () => {
      const late = open()
      expect(await rejection(late.purge(n))).toMatchObject({ kind: 'timeout', outcome: 'unknown' })
      return { newer: writer.set(n, 'k', write(2)) }
    }, 1_000)
    expect((await newer).applied).toBe(true)
    await sleep(300)
    expect(stores.at(-1)!.client.status).toBe('ready')
    expect(await storedByte(writer, n, 'k')).toBe(2)
  })

  it('counts failures by kind, and says a refused call was not applied', async () => {
    const store = open({ failureThreshold: 1, breakerOpenMs: 60_000 })
    const n = `counts-${randomUUID()}`
    await frozen(async () => {
      await rejection(store.get(n, 'k'))
      const refused = await rejection(store.set(n, 'k', write(1)))
      expect(refused).toMatchObject({ kind: 'circuit-open', outcome: 'not-applied' })
    }, 300)
    expect(store.errorCounts).toMatchObject({ timeout: 1, 'circuit-open': 1, connection: 0 })
  })
})
