import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SharedStore, StoreWrite } from '../store.js'

/** How to run {@link storeConformanceSuite} against one store implementation. */
export interface ConformanceOptions {
  /** Builds the store under test (once for the suite). */
  create: () => SharedStore | Promise<SharedStore>
  /** Tears it down after the suite. @default store.close() */
  destroy?: (store: SharedStore) => void | Promise<void>
  /**
   * Slack in ms allowed between a duration written and the one read back
   * (network round trips, coarse server clocks).
   * @default 50
   */
  toleranceMs?: number
}

const bytes = (...values: number[]) => Uint8Array.from(values)
const write = (data: Uint8Array | undefined, freshMs: number, keepMs = freshMs): StoreWrite => ({
  data,
  freshMs,
  keepMs,
})
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The contract every `SharedStore` must keep, as a vitest suite. Call it from a
 * test file of the store's package:
 *
 * @example
 * import { storeConformanceSuite } from '@tiercache/core/testing'
 * storeConformanceSuite('RedisStore (standalone)', { create: () => new RedisStore({ url }) })
 */
export function storeConformanceSuite(name: string, options: ConformanceOptions): void {
  const tolerance = options.toleranceMs ?? 50

  describe(`SharedStore conformance: ${name}`, () => {
    let store: SharedStore
    // Each test gets namespaces of its own, so a shared server needs no flushing.
    const ns = () => `conformance-${randomUUID()}`

    beforeAll(async () => {
      store = await options.create()
    })
    afterAll(async () => {
      if (options.destroy) await options.destroy(store)
      else await store.close?.()
    })

    it('reads a missing key as undefined', async () => {
      expect(await store.get(ns(), 'missing')).toBeUndefined()
    })

    it('round-trips bytes and reports remaining fresh and kept time', async () => {
      const n = ns()
      const data = Uint8Array.from({ length: 256 }, (_, i) => i)
      await store.set(n, 'k', write(data, 10_000, 30_000))
      const record = await store.get(n, 'k')
      expect(record).toBeDefined()
      expect(Buffer.from(record!.data!).equals(Buffer.from(data))).toBe(true)
      expect(record!.freshMs).toBeGreaterThan(10_000 - tolerance)
      expect(record!.freshMs).toBeLessThanOrEqual(10_000)
      expect(record!.keepMs).toBeGreaterThan(30_000 - tolerance)
      expect(record!.keepMs).toBeLessThanOrEqual(30_000)
    })

    it('round-trips a negative entry (no data)', async () => {
      const n = ns()
      await store.set(n, 'neg', write(undefined, 5_000))
      const record = await store.get(n, 'neg')
      expect(record).toBeDefined()
      expect(record!.data).toBeUndefined()
      expect(record!.freshMs).toBeGreaterThan(5_000 - tolerance)
    })

    it('round-trips an empty value as empty bytes, not as a miss', async () => {
      const n = ns()
      await store.set(n, 'empty', write(new Uint8Array(0), 5_000))
      const record = await store.get(n, 'empty')
      expect(record?.data).toBeInstanceOf(Uint8Array)
      expect(record!.data!.length).toBe(0)
    })

    it('keeps records that never expire', async () => {
      const n = ns()
      await store.set(n, 'forever', write(bytes(1), Infinity, Infinity))
      const record = await store.get(n, 'forever')
      expect(record?.freshMs).toBe(Infinity)
      expect(record?.keepMs).toBe(Infinity)
    })

    it('keeps a record past its fresh time as stale, then drops it after its kept time', async () => {
      const n = ns()
      await store.set(n, 'k', write(bytes(7), 100, 400))
      await sleep(200)
      const stale = await store.get(n, 'k')
      expect(stale).toBeDefined()
      expect(stale!.freshMs).toBeLessThanOrEqual(0)
      expect(stale!.keepMs).toBeGreaterThan(0)
      expect(Array.from(stale!.data!)).toEqual([7])
      await sleep(300)
      expect(await store.get(n, 'k')).toBeUndefined()
    })

    it('overwrites a record and its times', async () => {
      const n = ns()
      await store.set(n, 'k', write(bytes(1), 100, 100))
      await store.set(n, 'k', write(bytes(2), 20_000, 20_000))
      const record = await store.get(n, 'k')
      expect(Array.from(record!.data!)).toEqual([2])
      expect(record!.freshMs).toBeGreaterThan(20_000 - tolerance)
    })

    it('deletes a record', async () => {
      const n = ns()
      await store.set(n, 'k', write(bytes(1), 10_000))
      await store.delete(n, 'k')
      expect(await store.get(n, 'k')).toBeUndefined()
      await store.delete(n, 'never-set') // deleting a missing key is not an error
    })

    it('keeps namespaces apart, whatever the keys and namespaces contain', async () => {
      const base = ns()
      await store.set(`${base}:a`, 'b', write(bytes(1), 10_000))
      await store.set(base, 'a:b', write(bytes(2), 10_000))
      await store.set(`${base}:a:b`, ':', write(bytes(3), 10_000))
      expect(Array.from((await store.get(`${base}:a`, 'b'))!.data!)).toEqual([1])
      expect(Array.from((await store.get(base, 'a:b'))!.data!)).toEqual([2])
      expect(Array.from((await store.get(`${base}:a:b`, ':'))!.data!)).toEqual([3])
      expect(await store.get(base, 'b')).toBeUndefined()
      expect(await store.get(`${base}:a`, 'a:b')).toBeUndefined()
    })

    it('accepts keys of any content and length', async () => {
      const n = ns()
      const keys = ['x'.repeat(10_000), 'ключ 🗝️', 'line\nbreak\r\n', '{hash}tag', '*?[glob]', '\u0000nul', ' ']
      for (const [i, key] of keys.entries()) await store.set(n, key, write(bytes(i), 10_000))
      for (const [i, key] of keys.entries()) expect(Array.from((await store.get(n, key))!.data!)).toEqual([i])
      expect(await store.get(n, 'x'.repeat(9_999))).toBeUndefined()
    })

    it('round-trips a 1 MiB value', async () => {
      const n = ns()
      const big = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff)
      await store.set(n, 'big', write(big, 10_000))
      const record = await store.get(n, 'big')
      expect(Buffer.from(record!.data!).equals(Buffer.from(big))).toBe(true)
    })

    it('getMany returns records in the order of the keys, undefined for the missing', async () => {
      const n = ns()
      await store.set(n, 'a', write(bytes(1), 10_000))
      await store.set(n, 'c', write(undefined, 10_000))
      const records = await store.getMany(n, ['c', 'missing', 'a', 'a'])
      expect(records).toHaveLength(4)
      expect(records[0]?.data).toBeUndefined()
      expect(records[0]).toBeDefined()
      expect(records[1]).toBeUndefined()
      expect(Array.from(records[2]!.data!)).toEqual([1])
      expect(Array.from(records[3]!.data!)).toEqual([1])
      expect(await store.getMany(n, [])).toEqual([])
    })

    it('getMany of many keys', async () => {
      const n = ns()
      const keys = Array.from({ length: 500 }, (_, i) => `key-${i}`)
      await store.setMany(
        n,
        keys.map((key, i) => [key, write(bytes(i & 0xff), 10_000)] as const),
      )
      const records = await store.getMany(n, keys)
      expect(records.map((r) => r?.data?.[0])).toEqual(keys.map((_, i) => i & 0xff))
    })

    it('setMany writes every record with its own times', async () => {
      const n = ns()
      await store.setMany(n, [
        ['short', write(bytes(1), 1_000, 2_000)],
        ['long', write(bytes(2), 60_000, 120_000)],
        ['neg', write(undefined, 5_000)],
      ])
      const [short, long, neg] = await store.getMany(n, ['short', 'long', 'neg'])
      expect(short!.freshMs).toBeLessThanOrEqual(1_000)
      expect(long!.freshMs).toBeGreaterThan(60_000 - tolerance)
      expect(neg).toBeDefined()
      expect(neg!.data).toBeUndefined()
    })

    it('purge makes one namespace empty and leaves the others intact', async () => {
      const a = ns()
      const b = ns()
      await store.set(a, 'k', write(bytes(1), 10_000))
      await store.set(b, 'k', write(bytes(2), 10_000))
      await store.purge(a)
      expect(await store.get(a, 'k')).toBeUndefined()
      expect(await store.getMany(a, ['k'])).toEqual([undefined])
      expect(Array.from((await store.get(b, 'k'))!.data!)).toEqual([2])
      await store.set(a, 'k', write(bytes(3), 10_000))
      expect(Array.from((await store.get(a, 'k'))!.data!)).toEqual([3])
    })

    describe('lock', () => {
      const lockOf = () => {
        if (!store.lock) throw new Error(`${name} has no lock: the lock tests need one`)
        return store.lock
      }

      it('gives the lock to one owner at a time and releases only for its owner', async () => {
        const lock = lockOf()
        const n = ns()
        const token = await lock.acquire(n, 'k', 5_000)
        expect(typeof token).toBe('string')
        expect(await lock.acquire(n, 'k', 5_000)).toBeUndefined()
        expect(await lock.release(n, 'k', 'not-the-owner')).toBe(false)
        expect(await lock.acquire(n, 'k', 5_000)).toBeUndefined()
        expect(await lock.release(n, 'k', token!)).toBe(true)
        expect(await lock.release(n, 'k', token!)).toBe(false)
        const next = await lock.acquire(n, 'k', 5_000)
        expect(typeof next).toBe('string')
        expect(next).not.toBe(token)
        await lock.release(n, 'k', next!)
      })

      it('keeps locks of different keys and namespaces apart', async () => {
        const lock = lockOf()
        const n = ns()
        const m = ns()
        const a = await lock.acquire(n, 'a', 5_000)
        const b = await lock.acquire(n, 'b', 5_000)
        const c = await lock.acquire(m, 'a', 5_000)
        expect([a, b, c].every((t) => typeof t === 'string')).toBe(true)
        await Promise.all([lock.release(n, 'a', a!), lock.release(n, 'b', b!), lock.release(m, 'a', c!)])
      })

      it('frees the lock when the lease ends (a crashed holder)', async () => {
        const lock = lockOf()
        const n = ns()
        expect(await lock.acquire(n, 'k', 150)).toBeDefined()
        expect(await lock.acquire(n, 'k', 150)).toBeUndefined()
        await sleep(250)
        const token = await lock.acquire(n, 'k', 5_000)
        expect(typeof token).toBe('string')
        await lock.release(n, 'k', token!)
      })

      it('extends the lease only for the owner', async () => {
        const lock = lockOf()
        if (!lock.extend) return expect(lock.extend).toBeUndefined()
        const n = ns()
        const token = await lock.acquire(n, 'k', 200)
        expect(await lock.extend(n, 'k', 'not-the-owner', 5_000)).toBe(false)
        expect(await lock.extend(n, 'k', token!, 5_000)).toBe(true)
        await sleep(300)
        expect(await lock.acquire(n, 'k', 5_000)).toBeUndefined()
        expect(await lock.release(n, 'k', token!)).toBe(true)
      })

      it('wakes a waiter when the holder releases, well before the timeout', async () => {
        const lock = lockOf()
        const n = ns()
        const token = await lock.acquire(n, 'k', 10_000)
        const started = Date.now()
        const waiting = lock.waitForRelease(n, 'k', 5_000)
        await sleep(100)
        await lock.release(n, 'k', token!)
        expect(await waiting).toBe(true)
        const waited = Date.now() - started
        expect(waited).toBeGreaterThanOrEqual(90)
        expect(waited).toBeLessThan(1_500)
      })

      it('wakes many waiters on one release', async () => {
        const lock = lockOf()
        const n = ns()
        const token = await lock.acquire(n, 'k', 10_000)
        const waiters = Array.from({ length: 50 }, () => lock.waitForRelease(n, 'k', 5_000))
        await sleep(50)
        await lock.release(n, 'k', token!)
        expect(await Promise.all(waiters)).toEqual(Array(50).fill(true))
      })

      it('times out a waiter with false when nobody releases, and never hangs', async () => {
        const lock = lockOf()
        const n = ns()
        const token = await lock.acquire(n, 'k', 10_000)
        const started = Date.now()
        expect(await lock.waitForRelease(n, 'k', 200)).toBe(false)
        const waited = Date.now() - started
        expect(waited).toBeGreaterThanOrEqual(150)
        expect(waited).toBeLessThan(1_500)
        await lock.release(n, 'k', token!)
      })

      it('returns at once when nobody holds the lock', async () => {
        const lock = lockOf()
        const started = Date.now()
        expect(await lock.waitForRelease(ns(), 'k', 5_000)).toBe(true)
        expect(Date.now() - started).toBeLessThan(1_000)
      })
    })
  })
}
