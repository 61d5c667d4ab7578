import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { optionNames } from '../options.js'
import type { SharedStore, StoreWrite } from '../store.js'
import { checkOptionNames } from '../validate.js'

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
  /**
   * The store's fence window (`fenceMs`) when the test made it short enough
   * to wait out (≤ 2 s); the tests that wait for a tombstone to expire run only then.
   */
  fenceMs?: number
  /**
   * Builds another store on the same backend (another connection, as another
   * process would have), for the tests of concurrent writers. Closed with
   * `destroyPeer`. @default the store under test itself
   */
  createPeer?: () => SharedStore | Promise<SharedStore>
  /** Tears down a store made by `createPeer`. @default store.close() */
  destroyPeer?: (store: SharedStore) => void | Promise<void>
}

const CONFORMANCE_OPTION_NAMES = optionNames<ConformanceOptions>({
  create: true,
  destroy: true,
  toleranceMs: true,
  fenceMs: true,
  createPeer: true,
  destroyPeer: true,
})

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
  // A misspelled option (`fenceMS`) would otherwise skip the tests it enables, and the suite would pass.
  checkOptionNames(options, CONFORMANCE_OPTION_NAMES, 'options')
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

    it('keeps the resurrected mark of a write, and only on that record', async () => {
      const n = ns()
      await store.set(n, 'revived', { ...write(bytes(1), 5_000), resurrected: true })
      await store.set(n, 'plain', write(bytes(2), 5_000))
      expect((await store.get(n, 'revived'))?.resurrected).toBe(true)
      expect((await store.read(n, 'revived')).record?.resurrected).toBe(true)
      expect((await store.get(n, 'plain'))?.resurrected).toBeUndefined()
      await store.set(n, 'revived', write(bytes(3), 5_000))
      expect((await store.get(n, 'revived'))?.resurrected).toBeUndefined()
    })

    it('keeps the tagged mark of a write, and only on that record', async () => {
      const n = ns()
      await store.set(n, 'tagged', { ...write(bytes(1), 5_000), tagged: true })
      await store.set(n, 'plain', write(bytes(2), 5_000))
      expect((await store.get(n, 'tagged'))?.tagged).toBe(true)
      expect((await store.readMany(n, ['tagged']))[0]!.record?.tagged).toBe(true)
      expect((await store.get(n, 'plain'))?.tagged).toBeUndefined()
      await store.set(n, 'tagged', write(bytes(3), 5_000))
      expect((await store.get(n, 'tagged'))?.tagged).toBeUndefined()
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

    describe('fenced writes', () => {
      const value = async (n: string, key: string) => {
        const record = await store.get(n, key)
        return record === undefined ? undefined : Array.from(record.data ?? [])
      }
      const loadWrite = (data: number, ifVersion: string): StoreWrite => ({ ...write(bytes(data), 10_000), ifVersion })

      it('read returns the record and a version, also for a missing key', async () => {
        const n = ns()
        const missing = await store.read(n, 'k')
        expect(missing.record).toBeUndefined()
        expect(typeof missing.version).toBe('string')
        await store.set(n, 'k', write(bytes(1), 10_000))
        const present = await store.read(n, 'k')
        expect(Array.from(present.record!.data!)).toEqual([1])
        expect(present.record!.version).toBe(present.version)
        const [a, b] = await store.readMany(n, ['k', 'missing'])
        expect(Array.from(a!.record!.data!)).toEqual([1])
        expect(b!.record).toBeUndefined()
        expect(typeof b!.version).toBe('string')
        expect(await store.readMany(n, [])).toEqual([])
      })

      it('a conditional write applies when nothing was written since the read, and only once', async () => {
        const n = ns()
        const { version } = await store.read(n, 'k')
        const first = await store.set(n, 'k', loadWrite(1, version))
        expect(first.applied).toBe(true)
        const second = await store.set(n, 'k', loadWrite(2, version))
        expect(second.applied).toBe(false)
        expect(await value(n, 'k')).toEqual([1])
        // The version a write returns is the key's version now: a write with it applies.
        expect((await store.set(n, 'k', loadWrite(3, first.version))).applied).toBe(true)
        const refused = await store.set(n, 'k', loadWrite(4, first.version))
        expect(refused.applied).toBe(false)
        expect((await store.set(n, 'k', loadWrite(5, refused.version))).applied).toBe(true)
        expect(await value(n, 'k')).toEqual([5])
      })

      it('refuses a conditional write after an unconditional set (a load that read before it)', async () => {
        const n = ns()
        await store.set(n, 'k', write(bytes(1), 10_000))
        const [before, missing] = await store.readMany(n, ['k', 'fresh'])
        expect((await store.set(n, 'k', write(bytes(2), 10_000))).applied).toBe(true)
        await store.set(n, 'fresh', write(bytes(2), 10_000))
        expect((await store.set(n, 'k', loadWrite(9, before!.version))).applied).toBe(false)
        expect((await store.set(n, 'fresh', loadWrite(9, missing!.version))).applied).toBe(false)
        expect(await value(n, 'k')).toEqual([2])
        expect(await value(n, 'fresh')).toEqual([2])
      })

      it('refuses a conditional write that read before a set whose record has expired by its TTL since', async () => {
        // A slow load read k (absent, or an older value), then a set with a short TTL landed and
        // expired before the load finished: its older value must not land as if nothing happened.
        const n = ns()
        await store.set(n, 'older', write(bytes(1), 10_000))
        const [absent, older] = await store.readMany(n, ['k', 'older'])
        await store.set(n, 'k', write(bytes(2), 30, 60))
        await store.set(n, 'older', { ...write(undefined, 30, 60) })
        await sleep(150)
        expect(await value(n, 'k')).toBeUndefined()
        expect((await store.set(n, 'k', loadWrite(9, absent!.version))).applied).toBe(false)
        expect((await store.set(n, 'older', loadWrite(9, older!.version))).applied).toBe(false)
        expect(await value(n, 'k')).toBeUndefined()
        expect(await value(n, 'older')).toBeUndefined()
        // A load that reads now (after the expiry) writes: an expired key can be cached again at once.
        const now = await store.read(n, 'k')
        expect(now.record).toBeUndefined()
        expect((await store.set(n, 'k', loadWrite(3, now.version))).applied).toBe(true)
        expect(await value(n, 'k')).toEqual([3])
        const [fresh] = await store.readMany(n, ['older'])
        expect((await store.set(n, 'older', loadWrite(4, fresh!.version))).applied).toBe(true)
        expect(await value(n, 'older')).toEqual([4])
      })

      it('refuses a conditional write after a delete: the tombstone keeps the key from resurrecting', async () => {
        const n = ns()
        await store.set(n, 'k', write(bytes(1), 10_000))
        const present = await store.read(n, 'k')
        const absent = await store.read(n, 'never')
        await store.set(n, 'never', write(bytes(1), 10_000))
        const deleted = await store.delete(n, 'k')
        await store.delete(n, 'never')
        expect(deleted.applied).toBe(true)
        expect((await store.set(n, 'k', loadWrite(9, present.version))).applied).toBe(false)
        expect((await store.set(n, 'never', loadWrite(9, absent.version))).applied).toBe(false)
        expect(await value(n, 'k')).toBeUndefined()
        expect(await value(n, 'never')).toBeUndefined()
        // A load that read after the delete writes.
        const after = await store.read(n, 'k')
        expect(after.record).toBeUndefined()
        expect((await store.set(n, 'k', loadWrite(3, after.version))).applied).toBe(true)
        expect(await value(n, 'k')).toEqual([3])
      })

      it('refuses a conditional write after a purge, and the purged value stays unreachable', async () => {
        const n = ns()
        await store.set(n, 'k', write(bytes(1), 10_000))
        const present = await store.read(n, 'k')
        const absent = await store.read(n, 'other')
        await store.purge(n)
        expect((await store.set(n, 'k', loadWrite(9, present.version))).applied).toBe(false)
        expect((await store.set(n, 'other', loadWrite(9, absent.version))).applied).toBe(false)
        expect(await value(n, 'k')).toBeUndefined()
        expect(await value(n, 'other')).toBeUndefined()
        const after = await store.read(n, 'k')
        expect((await store.set(n, 'k', loadWrite(3, after.version))).applied).toBe(true)
        expect(await value(n, 'k')).toEqual([3])
      })

      it('setMany fences each entry on its own and answers per entry', async () => {
        const n = ns()
        const [a, b] = await store.readMany(n, ['a', 'b'])
        await store.set(n, 'b', write(bytes(2), 10_000))
        const results = await store.setMany(n, [
          ['a', loadWrite(7, a!.version)],
          ['b', loadWrite(7, b!.version)],
          ['c', write(bytes(7), 10_000)],
        ])
        expect(results.map((result) => result.applied)).toEqual([true, false, true])
        expect(await store.getMany(n, ['a', 'b', 'c']).then((rs) => rs.map((r) => r?.data?.[0]))).toEqual([7, 2, 7])
      })

      it('concurrent loads from several connections: exactly one writes, a set in between beats them all', async () => {
        const peers = [store, ...(await Promise.all([1, 2, 3].map(() => options.createPeer?.() ?? store)))]
        try {
          for (let round = 0; round < 10; round++) {
            const n = ns()
            const reads = await Promise.all(peers.map((peer) => peer.read(n, 'k')))
            const results = await Promise.all(peers.map((peer, i) => peer.set(n, 'k', loadWrite(i, reads[i]!.version))))
            expect(results.filter((result) => result.applied)).toHaveLength(1)
            const winner = results.findIndex((result) => result.applied)
            expect(await value(n, 'k')).toEqual([winner])

            // Loads that read, then a set by another connection, then the loads write: all refused.
            const again = await Promise.all(peers.map((peer) => peer.read(n, 'k')))
            await peers[round % peers.length]!.set(n, 'k', write(bytes(100), 10_000))
            const late = await Promise.all(peers.map((peer, i) => peer.set(n, 'k', loadWrite(i, again[i]!.version))))
            expect(late.some((result) => result.applied)).toBe(false)
            expect(await value(n, 'k')).toEqual([100])
          }
        } finally {
          for (const peer of new Set(peers)) {
            if (peer === store) continue
            if (options.destroyPeer) await options.destroyPeer(peer)
            else await peer.close?.()
          }
        }
      })

      it('refuses a version read longer ago than the fence window, when the tombstone may be gone', async () => {
        const fenceMs = options.fenceMs
        if (fenceMs === undefined || fenceMs > 2_000) return
        const n = ns()
        await store.set(n, 'k', write(bytes(1), 60_000))
        const old = await store.read(n, 'k')
        await store.delete(n, 'k')
        await sleep(fenceMs + 100)
        // The tombstone is gone, yet the version read before the delete cannot write.
        expect((await store.set(n, 'k', loadWrite(9, old.version))).applied).toBe(false)
        const unchanged = await store.read(n, 'other')
        await sleep(fenceMs + 100)
        expect((await store.set(n, 'other', loadWrite(9, unchanged.version))).applied).toBe(false)
        expect(await value(n, 'k')).toBeUndefined()
      })

      it('keeps the meta of a write beside its data, and only on that record', async () => {
        const n = ns()
        await store.set(n, 'k', { ...write(bytes(1, 2), 10_000), meta: bytes(7, 8, 9) })
        await store.set(n, 'plain', write(bytes(3), 10_000))
        const [withMeta, plain] = await store.getMany(n, ['k', 'plain'])
        expect(Array.from(withMeta!.data!)).toEqual([1, 2])
        expect(Array.from(withMeta!.meta!)).toEqual([7, 8, 9])
        expect(plain!.meta).toBeUndefined()
        expect(Array.from((await store.read(n, 'k')).record!.meta!)).toEqual([7, 8, 9])
      })

      it('touch makes a record at the version read fresh again, data, meta and version untouched', async () => {
        const n = ns()
        if (store.touch === undefined) return // optional: the cache rewrites instead
        await store.set(n, 'k', { ...write(bytes(1), 100, 20_000), staleMs: 5_000, meta: bytes(4), resurrected: true })
        await sleep(150)
        const read = await store.read(n, 'k')
        expect(read.record!.freshMs).toBeLessThanOrEqual(0)
        const touched = await store.touch(n, 'k', { freshMs: 10_000, keepMs: 20_000, ifVersion: read.version })
        expect(touched.applied).toBe(true)
        const after = await store.read(n, 'k')
        expect(after.record!.freshMs).toBeGreaterThan(10_000 - tolerance)
        expect(after.record!.keepMs).toBeGreaterThan(20_000 - tolerance)
        expect(Array.from(after.record!.data!)).toEqual([1])
        expect(Array.from(after.record!.meta!)).toEqual([4])
        expect(after.record!.staleMs).toBe(5_000)
        expect(after.record!.resurrected).toBeUndefined()
        // Same record, same version: a load that read it before the touch still writes.
        expect((await store.set(n, 'k', loadWrite(2, read.version))).applied).toBe(true)
      })

      it('touch never brings back a record written, deleted, purged or expired since the read', async () => {
        const n = ns()
        if (store.touch === undefined) return
        const touch = (ifVersion: string) => ({ freshMs: 10_000, keepMs: 10_000, ifVersion })
        await store.setMany(n, [
          ['set', write(bytes(1), 10_000)],
          ['deleted', write(bytes(1), 10_000)],
          ['expired', write(bytes(1), 30, 60)],
        ])
        const [set, deleted, expired, absent] = await store.readMany(n, ['set', 'deleted', 'expired', 'absent'])
        await store.set(n, 'set', write(bytes(2), 10_000))
        await store.delete(n, 'deleted')
        await sleep(150)
        expect((await store.touch(n, 'set', touch(set!.version))).applied).toBe(false)
        expect((await store.touch(n, 'deleted', touch(deleted!.version))).applied).toBe(false)
        expect((await store.touch(n, 'expired', touch(expired!.version))).applied).toBe(false)
        expect((await store.touch(n, 'absent', touch(absent!.version))).applied).toBe(false)
        expect(await value(n, 'set')).toEqual([2])
        expect(await value(n, 'deleted')).toBeUndefined()
        expect(await value(n, 'expired')).toBeUndefined()
        expect(await value(n, 'absent')).toBeUndefined()
        const m = ns()
        await store.set(m, 'k', write(bytes(1), 10_000))
        const before = await store.read(m, 'k')
        await store.purge(m)
        expect((await store.touch(m, 'k', touch(before.version))).applied).toBe(false)
        expect(await value(m, 'k')).toBeUndefined()
      })

      it('rejects a version it did not issue with a TypeError', async () => {
        await expect(store.set(ns(), 'k', { ...write(bytes(1), 1_000), ifVersion: 'not a version' })).rejects.toThrow(
          TypeError,
        )
      })
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
