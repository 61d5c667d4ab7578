import { execFileSync } from 'node:child_process'
import { storeConformanceSuite } from '@tiercache/core/testing'
import { describe, expect, it } from 'vitest'
import { MemoryStore, TierCache } from '../src/index.js'

storeConformanceSuite('MemoryStore', { create: () => new MemoryStore(), toleranceMs: 5 })
storeConformanceSuite('MemoryStore keeping values', {
  create: () => new MemoryStore({ keepValues: true }),
  toleranceMs: 5,
})
storeConformanceSuite('MemoryStore with a 300 ms fence window', {
  // Given as a string: the suite's fence checks then prove '300ms' is 300 ms.
  create: () => new MemoryStore({ fenceMs: '300ms' }),
  toleranceMs: 5,
  fenceMs: 300,
})

describe('MemoryStore', () => {
  it('rejects a bad maxEntries with a TypeError naming it', () => {
    expect(() => new MemoryStore({ maxEntries: 0 })).toThrow(/maxEntries/)
    expect(() => new MemoryStore({ fenceMs: -1 })).toThrow(/options\.fenceMs/)
  })

  it('purge is O(1): it moves to a new generation instead of scanning', async () => {
    const store = new MemoryStore()
    const write = { data: new Uint8Array([1]), freshMs: 10_000, keepMs: 10_000 }
    for (let i = 0; i < 10_000; i++) await store.set('ns', `k${i}`, write)
    const started = performance.now()
    await store.purge('ns')
    // The records are still there (aged out by the LRU later), unreachable.
    expect(store.size).toBe(10_000)
    expect(await store.get('ns', 'k1')).toBeUndefined()
    expect(performance.now() - started).toBeLessThan(50)
  })

  it('a version read at a fractional ms (a clock such as performance.now) is one this store accepts back', async () => {
    // The version is `<generation>.<read at>.<id>`: a read at 1000.5 ms gave `0.1000.5.`, which the
    // store then refused as "not a version read from this store" with a TypeError, so every load's
    // conditional write-back failed and nothing a cache loaded reached the store.
    let now = 1000.5
    const clock = { now: () => now }
    const store = new MemoryStore({ clock })
    const write = { data: new Uint8Array([1]), freshMs: 1000, keepMs: 1000 }
    const read = await store.read('ns', 'k')
    await expect(store.set('ns', 'k', { ...write, ifVersion: read.version })).resolves.toMatchObject({ applied: true })
    now += 0.25
    const { version } = await store.read('ns', 'k')
    await expect(store.touch('ns', 'k', { freshMs: 5, keepMs: 5, ifVersion: version })).resolves.toMatchObject({
      applied: true,
    })
    // Still fenced: a version read before a write is refused, a stale one by its age.
    await store.set('ns', 'k', write)
    await expect(store.set('ns', 'k', { ...write, ifVersion: version })).resolves.toMatchObject({ applied: false })
    const cache = new TierCache<string>({ name: 'c', store, clock })
    expect(await cache.get('x', async () => 'v')).toBe('v')
    expect(await store.get('c', 'x')).toBeDefined()
  })

  it('bounds what it holds', async () => {
    const store = new MemoryStore({ maxEntries: 10 })
    for (let i = 0; i < 100; i++) await store.set('ns', `k${i}`, { data: undefined, freshMs: 1e4, keepMs: 1e4 })
    expect(store.size).toBe(10)
    expect(await store.get('ns', 'k99')).toBeDefined()
    expect(await store.get('ns', 'k0')).toBeUndefined()
  })
})

describe('MemoryStore keepValues (issue 15: the default configuration held every value twice, once encoded)', () => {
  it('keeps the value itself and hands it back, only when asked to', async () => {
    const value = { id: 1 }
    const write = { data: new Uint8Array(0), freshMs: 1_000, keepMs: 1_000, value }
    const keeping = new MemoryStore({ keepValues: true })
    const plain = new MemoryStore()
    expect([keeping.keepsValues, plain.keepsValues]).toEqual([true, false])
    await keeping.set('ns', 'k', write)
    await plain.set('ns', 'k', write)
    expect((await keeping.get('ns', 'k'))?.value).toBe(value)
    expect((await plain.get('ns', 'k'))?.value).toBeUndefined()
    expect(() => new MemoryStore({ keepValues: 'yes' as unknown as boolean })).toThrow(/options\.keepValues/)
  })

  it('a TierCache given no store keeps one copy: L1 and the store hold the same object, never encoded', async () => {
    const made = { id: 1, tags: new Set(['a']) }
    const own = new TierCache<typeof made>({ name: 'once', lruSize: 1 })
    expect(own.store.keepsValues).toBe(true)
    const bytes = new TierCache<typeof made>({ name: 'twice', lruSize: 1, store: new MemoryStore() })
    for (const cache of [own, bytes]) {
      await cache.get('k', async () => made)
      await cache.get('other', async () => ({ id: 2, tags: new Set<string>() })) // evicts k from L1 (lruSize 1)
      expect(cache.peek('k')).toBeUndefined()
    }
    expect(await own.get('k')).toBe(made) // from the store: the very object
    const decoded = await bytes.get('k')
    expect(decoded).toEqual(made) // from the store's bytes: an equal copy
    expect(decoded).not.toBe(made)
  })
})

describe('MemoryStore records (issue 15: a record cost ~290 B beyond its value as an lru-cache entry)', () => {
  const bytes = (n: number) => new Uint8Array([n])
  const write = (n: number, extra: object = {}) => ({ data: bytes(n), freshMs: 1e4, keepMs: 1e4, ...extra })

  it('never hands out a version twice: write, delete and rewrite of one key, and many keys (no ABA)', async () => {
    const store = new MemoryStore({ clock: { now: () => 1_000 } }) // one instant: versions differ by write id alone
    const first = await store.read('ns', 'k')
    const seen = new Set<string>([first.version])
    const versions: string[] = []
    for (let i = 0; i < 50; i++) {
      versions.push((await store.set('ns', 'k', write(i))).version)
      versions.push((await store.delete('ns', 'k')).version)
    }
    for (let i = 0; i < 2_000; i++) versions.push((await store.set('ns', `k${i % 7}`, write(i))).version)
    for (const v of versions) {
      expect(seen.has(v)).toBe(false)
      seen.add(v)
    }
    // The key is back to a record after write, delete, write: a version from before is still refused.
    await store.set('ns', 'k', write(1))
    expect((await store.set('ns', 'k', { ...write(2), ifVersion: versions[0] })).applied).toBe(false)
    expect((await store.set('ns', 'k', { ...write(2), ifVersion: first.version })).applied).toBe(false)
  })

  it('a version from before an eviction is refused when the key is written again, in a reused slot', async () => {
    const store = new MemoryStore({ maxEntries: 2 })
    const { version } = await store.set('ns', 'a', write(1))
    await store.set('ns', 'b', write(2))
    await store.set('ns', 'c', write(3)) // evicts a
    expect(await store.get('ns', 'a')).toBeUndefined()
    await store.set('ns', 'a', write(4)) // evicts b, takes its slot
    expect((await store.set('ns', 'a', { ...write(5), ifVersion: version })).applied).toBe(false)
    expect((await store.get('ns', 'a'))?.data).toEqual(bytes(4))
  })

  it('a reused slot carries nothing of its last record (meta, marks, stale window, value)', async () => {
    const store = new MemoryStore({ maxEntries: 1, keepValues: true })
    const value = { v: 1 }
    await store.set('ns', 'a', write(1, { meta: bytes(9), tagged: true, resurrected: true, staleMs: 5, value }))
    const a = await store.get('ns', 'a')
    expect(a).toMatchObject({ meta: bytes(9), tagged: true, resurrected: true, staleMs: 5, value })
    await store.set('ns', 'b', write(2)) // evicts a, takes its slot
    const b = await store.get('ns', 'b')
    expect(b).toEqual({ data: bytes(2), freshMs: expect.any(Number), keepMs: expect.any(Number), version: b!.version })
  })

  it('a read makes a record the most recently used: the least recently read or written goes first', async () => {
    const store = new MemoryStore({ maxEntries: 2 })
    await store.set('ns', 'a', write(1))
    await store.set('ns', 'b', write(2))
    await store.get('ns', 'a')
    await store.set('ns', 'c', write(3))
    expect(await store.get('ns', 'a')).toBeDefined()
    expect(await store.get('ns', 'b')).toBeUndefined()
  })

  it('evicting a purged record leaves the record of the same key in the new generation alone', async () => {
    const store = new MemoryStore({ maxEntries: 2 })
    await store.set('ns', 'a', write(1))
    await store.set('ns', 'b', write(2))
    await store.purge('ns')
    await store.set('ns', 'a', write(3)) // evicts the purged a
    await store.set('ns', 'b', write(4)) // evicts the purged b
    expect(store.size).toBe(2)
    expect((await store.get('ns', 'a'))?.data).toEqual(bytes(3))
    expect((await store.get('ns', 'b'))?.data).toEqual(bytes(4))
  })

  it('evicts across namespaces and generations, each record from its own index', async () => {
    const store = new MemoryStore({ maxEntries: 3 })
    const held = new Map<string, number>() // "<ns>/<key>" -> data, for the last 3 written
    let n = 0
    for (let round = 0; round < 4; round++) {
      for (const ns of ['one', 'two', 'three']) {
        for (const key of ['a', 'b']) {
          await store.set(ns, key, write(++n))
          held.set(`${ns}/${key}`, n)
          if (held.size > 3) held.delete(held.keys().next().value!)
        }
      }
      if (round === 1) await store.purge('one') // the first namespace's index is the one held once
    }
    expect(store.size).toBe(3)
    for (const ns of ['one', 'two', 'three']) {
      for (const key of ['a', 'b']) {
        const expected = held.get(`${ns}/${key}`)
        expect((await store.get(ns, key))?.data).toEqual(expected === undefined ? undefined : bytes(expected))
      }
    }
  })

  it('keeps namespaces apart whatever their names and keys', async () => {
    const store = new MemoryStore()
    await store.set('a:b', 'c', write(1))
    expect(await store.get('a', 'b:c')).toBeUndefined()
    await store.purge('a')
    expect((await store.get('a:b', 'c'))?.data).toEqual(bytes(1))
  })

  it('gives back times exactly, also those no whole-ms offset holds (fractional, Infinity, past 24 days)', async () => {
    let now = 1_000
    const store = new MemoryStore({ clock: { now: () => now }, fenceMs: 60_000, maxEntries: 4 })
    const DAY = 86_400_000
    const cases = [
      { freshMs: 5_000, keepMs: 8_000, staleMs: 3_000 },
      { freshMs: 5_000.25, keepMs: 8_000.75, staleMs: 2.5 }, // a jittered ttl
      { freshMs: Infinity, keepMs: Infinity, staleMs: 0 }, // ttl 0
      { freshMs: 5_000, keepMs: Infinity, staleMs: Infinity }, // resurrect forever
      { freshMs: 1_000, keepMs: 30 * DAY, staleMs: 30 * DAY - 1_000 },
      { freshMs: 1_000, keepMs: 2_000 }, // no stale window given
    ]
    for (const [i, life] of cases.entries()) {
      now = 1_000
      await store.set('ns', 'k', { data: bytes(i), ...life })
      const record = await store.get('ns', 'k')
      expect(record).toMatchObject({ freshMs: life.freshMs, keepMs: life.keepMs, data: bytes(i) })
      expect(record?.staleMs).toBe(life.staleMs)
      // The version outlives the record by the fence window (1 s kept, 60 s fence), and no longer.
      const read = await store.read('ns', 'k')
      if (life.keepMs === 2_000) {
        const id = (version: string) => version.split('.')[2]
        now = 1_000 + 59_999
        expect(await store.get('ns', 'k')).toBeUndefined()
        expect(id((await store.read('ns', 'k')).version)).toBe(id(read.version))
        now = 1_000 + 60_000
        expect((await store.read('ns', 'k')).version).toBe(`0.${now}.`)
      }
    }
  })

  it('a slot whose times were kept aside holds whole-ms times again once rewritten or reused', async () => {
    const store = new MemoryStore({ clock: { now: () => 1_000 }, maxEntries: 1 })
    await store.set('ns', 'a', { data: bytes(1), freshMs: 0.5, keepMs: 0.75, staleMs: 0.25 })
    await store.set('ns', 'a', { data: bytes(2), freshMs: 1_000, keepMs: 2_000, staleMs: 1_000 })
    expect(await store.get('ns', 'a')).toMatchObject({ freshMs: 1_000, keepMs: 2_000, staleMs: 1_000 })
    await store.set('ns', 'a', { data: bytes(3), freshMs: 0.5, keepMs: 0.75, staleMs: 0.25 })
    await store.set('ns', 'b', { data: bytes(4), freshMs: 3_000, keepMs: 4_000 }) // evicts a, takes its slot
    const b = await store.get('ns', 'b')
    expect(b).toMatchObject({ freshMs: 3_000, keepMs: 4_000 })
    expect(b?.staleMs).toBeUndefined()
  })

  it('hands back the very data object each record was written with (empty ones held once)', async () => {
    const store = new MemoryStore({ keepValues: true, maxEntries: 3 })
    const empty = new Uint8Array(0)
    const otherEmpty = new Uint8Array(0)
    const framed = new Uint8Array([1, 2, 3])
    const value = { v: 1 }
    const life = { freshMs: 1e4, keepMs: 1e4 }
    await store.set('ns', 'a', { data: empty, ...life, value })
    await store.set('ns', 'b', { data: otherEmpty, ...life, value })
    await store.set('ns', 'c', { data: framed, ...life, value, tagged: true })
    expect((await store.get('ns', 'a'))?.data).toBe(empty)
    expect((await store.get('ns', 'b'))?.data).toBe(otherEmpty)
    expect((await store.get('ns', 'c'))?.data).toBe(framed)
    await store.set('ns', 'a', { data: undefined, ...life }) // a cached miss where the empty data was
    expect(await store.get('ns', 'a')).toMatchObject({ data: undefined })
    expect((await store.get('ns', 'a'))?.value).toBeUndefined()
    await store.set('ns', 'c', { data: empty, ...life, value })
    expect((await store.get('ns', 'c'))?.data).toBe(empty)
    expect((await store.get('ns', 'c'))?.tagged).toBeUndefined()
  })

  it('lets go of an empty data and the buffer under it once no record holds it (the pinned empty data)', () => {
    // The built package (`pnpm test` builds first), in a child with --expose-gc. The first empty data a
    // store is given is held once for every record given that object; here it is a zero-length view of
    // a 64 MB buffer (a codec slicing its output from a larger buffer), and its only record is deleted
    // and the tombstone evicted: nothing refers to it any more, and the old store let it go.
    const dist = new URL('../dist/memory-store.js', import.meta.url).href
    const check = `
      const { MemoryStore } = await import(${JSON.stringify(dist)})
      const heap = () => { gc(); gc(); return process.memoryUsage().arrayBuffers }
      const store = new MemoryStore({ maxEntries: 1 })
      let ref
      await (async () => {
        const empty = new Uint8Array(64 * 1024 * 1024).subarray(0, 0)
        ref = new WeakRef(empty)
        await store.set('ns', 'a', { data: empty, freshMs: 60_000, keepMs: 60_000 })
      })()
      await store.delete('ns', 'a')
      await store.set('ns', 'b', { data: new Uint8Array([1]), freshMs: 60_000, keepMs: 60_000 })
      await new Promise((resolve) => setTimeout(resolve, 10))
      const buffers = heap()
      console.log(JSON.stringify({ held: ref.deref() !== undefined, buffers, size: store.size }))`
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', check], {
      encoding: 'utf8',
    })
    const after = JSON.parse(out) as { held: boolean; buffers: number; size: number }
    expect(after.size).toBe(1)
    expect(after.held).toBe(false)
    expect(after.buffers).toBeLessThan(1024 * 1024)
  })

  it('holds at most 100 B per record beyond key and value in a store that keeps values (100k, weighed in a fresh process)', () => {
    // The built package (`pnpm test` builds first), in a child with --expose-gc, as the L1 weighing test
    // (local-tier.test.ts). Measured 91 B on Node 20 (64-bit, no pointer compression); 306 B as an
    // lru-cache of objects keyed by a `<ns>:<generation>:<key>` string.
    const dist = new URL('../dist/memory-store.js', import.meta.url).href
    const weigh = `
      const { MemoryStore } = await import(${JSON.stringify(dist)})
      const n = 100_000, value = { v: 1 }, data = new Uint8Array(0), keys = Array.from({ length: n }, (_, i) => 'key:' + i)
      const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers }
      const before = heap()
      const store = new MemoryStore({ keepValues: true, maxEntries: n })
      for (const k of keys) await store.set('ns', k, { data, freshMs: 3.6e6, keepMs: 3.6e6, staleMs: 0, value })
      const filled = heap()
      console.log(JSON.stringify({ filled: (filled - before) / n, size: store.size }))`
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', weigh], {
      encoding: 'utf8',
    })
    const weighed = JSON.parse(out) as { filled: number; size: number }
    expect(weighed.size).toBe(100_000)
    expect(weighed.filled).toBeLessThanOrEqual(100)
  })
})
