import { afterEach, describe, expect, it, vi } from 'vitest'
import { CACHE_DEFAULTS, jsonCodec, MemoryStore, type SharedStore, TierCache, TimeoutError } from '../src/index.js'
import { cacheWithClock } from './fixtures.js'

const never = () => new Promise<string>(() => {})

describe('misspelled option names are refused, listing the valid ones', () => {
  const cache = new TierCache<string>({ name: 'names' })

  it('in the TierCache constructor', () => {
    expect(() => new TierCache({ tll: 5 } as never)).toThrow(TypeError)
    expect(() => new TierCache({ staleTTL: 5 } as never)).toThrow(
      /options\.staleTTL is not an option; valid options: .*staleTtl/,
    )
  })

  it('in the per-call options of get, getWithInfo, getMany and set', async () => {
    await expect(cache.get('k', { tll: 5 } as never, async () => 'v')).rejects.toThrow(
      /options\.tll is not an option.*ttl/,
    )
    await expect(cache.getWithInfo('k', { softTimout: 5 } as never)).rejects.toThrow(/options\.softTimout/)
    await expect(cache.getMany(['k'], { hardTimout: 5 } as never, async () => ['v'])).rejects.toThrow(
      /options\.hardTimout is not an option; valid options: ttl, negTtl, staleTtl, resurrectTtl, hardTimeout, signal$/,
    )
    // softTimeout means nothing to set: it is not one of set's options.
    await expect(cache.set('k', 'v', { softTimeout: 5 } as never)).rejects.toThrow(
      /options\.softTimeout is not an option; valid options: ttl, negTtl, staleTtl, resurrectTtl, tags, loadedBy$/,
    )
    expect(cache.peek('k')).toBeUndefined()
  })

  it('in the MemoryStore constructor', () => {
    expect(() => new MemoryStore({ maxEntry: 5 } as never)).toThrow(
      /options\.maxEntry is not an option; valid options: maxEntries, clock/,
    )
  })
})

describe('lockLease', () => {
  it('0 is refused: it would disable the fleet-wide lock', () => {
    expect(() => new TierCache({ lockLease: 0 })).toThrow(/options\.lockLease must be > 0/)
  })
})

describe('hardTimeout', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('per call, bounds the load that call starts, whatever the cache default', async () => {
    const cache = new TierCache<string>({ name: 'hard-call', hardTimeout: 0 })
    let signal: AbortSignal | undefined
    const started = Date.now()
    const result = cache.get('k', { hardTimeout: 30 }, (_key, ctx) => {
      signal = ctx.signal
      return never()
    })
    await expect(result).rejects.toBeInstanceOf(TimeoutError)
    await expect(result).rejects.toMatchObject({ timeoutMs: 30 })
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(signal?.aborted).toBe(true)
    // getMany too
    await expect(cache.getMany(['a', 'b'], { hardTimeout: 30 }, never as never)).rejects.toMatchObject({
      timeoutMs: 30,
    })
  })

  it('per call, may be longer than the cache default', async () => {
    const cache = new TierCache<string>({ name: 'hard-longer', hardTimeout: 20 })
    const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve('late'), 80))
    await expect(cache.get('a', slow)).rejects.toBeInstanceOf(TimeoutError)
    expect(await cache.get('b', { hardTimeout: 1_000 }, slow)).toBe('late')
  })

  it('has a finite default, so a loader that never settles does not hang its callers forever', async () => {
    expect(CACHE_DEFAULTS.hardTimeout).toBe(30_000)
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    const cache = new TierCache<string>({ name: 'hard-default' })
    const result = cache.get('k', never)
    const settled = vi.fn()
    result.then(settled, settled)
    await vi.advanceTimersByTimeAsync(29_999)
    expect(settled).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    await expect(result).rejects.toMatchObject({ name: 'TimeoutError', timeoutMs: 30_000 })
  })
})

describe('ill-formed UTF-16', () => {
  const cache = new TierCache<string>({ name: 'utf16' })
  const halfEmoji = '😀'.slice(0, 1)

  it('a key with a lone surrogate is refused (it would collide in Redis and over IPC)', async () => {
    await expect(cache.get(`user:${halfEmoji}`, async () => 'v')).rejects.toThrow(/key must be well-formed UTF-16/)
    await expect(cache.set(`a${halfEmoji}`, 'v')).rejects.toThrow(TypeError)
    await expect(cache.getMany(['ok', halfEmoji])).rejects.toThrow(/keys\[1\] must be well-formed/)
    // A whole emoji is fine.
    await cache.set('😀', 'v')
    expect(await cache.get('😀')).toBe('v')
  })

  it('a cache name with a lone surrogate is refused', () => {
    expect(() => new TierCache({ name: `users${halfEmoji}` })).toThrow(/options\.name must be well-formed UTF-16/)
  })
})

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

describe('values the codec cannot give back unchanged', () => {
  const cache = new TierCache<unknown>({ name: 'unrepresentable' })

  it.each([
    [{ a: { save: () => 1 } }, 'value.a.save is a function'],
    [{ list: [1, new Point(1, 2)] }, 'value.list[1] is an instance of Point'],
    [JSON.parse('{"ok":{"__proto__":{"admin":true}}}'), 'value.ok["__proto__"] is an own __proto__ key'],
    [{ name: `x${'😀'.slice(1)}` }, 'value.name is a string with a lone UTF-16 surrogate'],
    [{ tag: Symbol('t') }, 'value.tag is a symbol'],
    [{ byId: new Map([['u', { at: new URL('http://x') }]]) }, 'value.byId.get("u").at is an instance of URL'],
    [new Point(0, 0), 'value is an instance of Point'],
  ])('set(%o) rejects with a TypeError naming the path', async (value, message) => {
    await expect(cache.set('k', value)).rejects.toThrow(TypeError)
    await expect(cache.set('k', value)).rejects.toThrow(message)
    expect(cache.peek('k')).toBeUndefined()
    expect(await cache.store.get('unrepresentable', 'k')).toBeUndefined()
  })

  it('keeps what the codec supports: Date, Map, Set, bigint, typed arrays, undefined, null-prototype objects', async () => {
    const value = {
      at: new Date(5),
      m: new Map([[1, new Set(['a'])]]),
      n: 12n,
      bytes: new Uint8Array([1, 2]),
      nothing: undefined,
      bare: Object.assign(Object.create(null), { a: 1 }),
      deep: [[[{ x: Number.NaN }]]],
    }
    await cache.set('ok', value)
    expect(cache.peek('ok')?.value).toBe(value)
  })

  it('a loader value is checked too: the get rejects naming the key and path, nothing is cached', async () => {
    const { cache: loading, store } = cacheWithClock<unknown>()
    await expect(loading.get('p', async () => ({ at: new Point(1, 2) }))).rejects.toThrow(
      `the loader's value of key "p" at .at is an instance of Point`,
    )
    expect(loading.peek('p')).toBeUndefined()
    expect(await store.get('test', 'p')).toBeUndefined()
    await expect(loading.getMany(['q', 'r'], async () => [1, () => 2])).rejects.toThrow(
      /the loader's value of key "r" at \(the value itself\) is a function/,
    )
  })

  it("is the codec's own verdict: JSON cannot give back a Date", async () => {
    const json = new TierCache<unknown>({ name: 'json', codec: jsonCodec() })
    await expect(json.set('k', { at: new Date(0) })).rejects.toThrow(
      'value.at is an instance of Date, which the json codec',
    )
    await expect(json.set('k', [1, undefined])).rejects.toThrow('value[1] is undefined')
    await json.set('k', { a: [1, 'x', null, true] })
  })
})

describe('l1Serializer that returns undefined', () => {
  it('on a store read: reported, read as a miss, and nothing is cached in L1', async () => {
    const store = new MemoryStore()
    const writer = new TierCache<string>({ name: 'ser', store })
    await writer.set('k', 'real')
    const reader = new TierCache<string>({ name: 'ser', store, l1Serializer: () => undefined as never })
    const errors: Error[] = []
    reader.on('error', (error) => errors.push(error))
    expect(await reader.get('k')).toBeUndefined()
    expect(errors[0]?.message).toMatch(/could not decode/)
    expect((errors[0]?.cause as Error | undefined)?.message).toMatch(/l1Serializer returned undefined for key "k"/)
    expect(reader.peek('k')).toBeUndefined()
  })

  it('on set: rejects with a TypeError, nothing is cached', async () => {
    const cache = new TierCache<string>({ name: 'ser-set', l1Serializer: () => undefined as never })
    await expect(cache.set('k', 'v')).rejects.toThrow(/l1Serializer returned undefined/)
    expect(cache.peek('k')).toBeUndefined()
  })
})

describe('store and ipc options are checked in the constructor', () => {
  it('store: {} is refused, naming the missing methods', () => {
    expect(() => new TierCache({ store: {} as SharedStore })).toThrow(
      'options.store must be a SharedStore; it has no get, getMany, set, setMany, delete, purge method',
    )
    const noLock = { ...new MemoryStore(), get: async () => undefined } as unknown as SharedStore
    expect(() => new TierCache({ store: noLock })).toThrow(TypeError)
    const badLock = Object.assign(Object.create(MemoryStore.prototype), { lock: {} })
    expect(() => new TierCache({ store: badLock })).toThrow(/options\.store\.lock must be a StoreLock/)
  })

  it('ipc: {} is refused', () => {
    expect(() => new TierCache({ ipc: {} as never })).toThrow(/options\.ipc must be an InvalidationBus/)
  })
})

describe('getWithInfo without a loader', () => {
  it('reports a miss as hitLevel 0 (not found), not 3 (loader): no loader ran', async () => {
    const { cache } = cacheWithClock<string>()
    expect(await cache.getWithInfo('absent')).toEqual({ value: undefined, hitLevel: 0, stale: false })
    await cache.set('k', 'v')
    expect((await cache.getWithInfo('k')).hitLevel).toBe(1)
  })
})

describe('MemoryStore refuses a malformed write, as RedisStore does, before writing anything', () => {
  const bytes = new Uint8Array([1])

  it('a write with NaN times, keepMs below freshMs or data that is not bytes is a TypeError naming it, not a record', async () => {
    // Seen: MemoryStore took { freshMs: NaN } as applied (the record then read as absent), kept
    // keepMs < freshMs as max(keepMs, freshMs), and took a string for data; RedisStore refuses each.
    const store = new MemoryStore()
    await expect(store.set('n', 'k', { data: bytes, freshMs: Number.NaN, keepMs: 10 })).rejects.toThrow(
      new TypeError('write.freshMs must be a number'),
    )
    await expect(store.set('n', 'k', { data: bytes, freshMs: 10, keepMs: 5 })).rejects.toThrow(
      new TypeError('write.keepMs must be a number >= freshMs'),
    )
    await expect(store.set('n', 'k', { data: 'x' as never, freshMs: 10, keepMs: 10 })).rejects.toThrow(
      new TypeError('write.data must be a Uint8Array or undefined'),
    )
    await expect(store.set('n', 'k', { data: bytes, freshMs: 10, keepMs: 10, staleMs: -1 })).rejects.toThrow(
      new TypeError('write.staleMs must be a number >= 0 or undefined'),
    )
    await expect(store.set('n', 'k', undefined as never)).rejects.toThrow(
      new TypeError('write must be a StoreWrite object'),
    )
    const read = await store.read('n', 'k')
    await expect(store.touch('n', 'k', { freshMs: Number.NaN, keepMs: 10, ifVersion: read.version })).rejects.toThrow(
      new TypeError('touch.freshMs must be a number'),
    )
    expect(store.size).toBe(0)
  })

  it('setMany with one malformed entry writes none of them', async () => {
    // Seen: setMany wrote the entries before the bad one, then threw a TypeError.
    const store = new MemoryStore()
    await expect(
      store.setMany('n', [
        ['a', { data: bytes, freshMs: 10, keepMs: 10 }],
        ['b', { data: bytes, freshMs: 10, keepMs: Number.NaN }],
      ]),
    ).rejects.toThrow(new TypeError('entries[1][1].keepMs must be a number >= freshMs'))
    expect((await store.read('n', 'a')).record).toBeUndefined()
    expect(store.size).toBe(0)
    await expect(store.setMany('n', 'ab' as never)).rejects.toThrow(
      new TypeError('entries must be an array of [key, write] pairs'),
    )
    await expect(store.readMany('n', 'ab' as never)).rejects.toThrow(new TypeError('keys must be an array of strings'))
  })
})

describe('a clock or codec that is not one is refused where it is given', () => {
  it('options.clock without now() is a TypeError naming it, in TierCache and MemoryStore', () => {
    // Seen: both took { } and failed at the first read with "this[#clock].now is not a function".
    expect(() => new TierCache({ clock: {} as never })).toThrow(
      new TypeError('options.clock must be a Clock, an object with a now() method, got an object'),
    )
    expect(() => new MemoryStore({ clock: 5 as never })).toThrow(/^options\.clock must be a Clock/)
  })

  it('options.codec without encode and decode is a TypeError naming it, not every value kept in L1 only', async () => {
    // Seen: codec {} made each set resolve, its value kept in L1 only (an encode failure is an `error` event).
    expect(() => new TierCache({ codec: {} as never })).toThrow(
      new TypeError('options.codec must be a Codec; it has no encode, decode method'),
    )
    expect(() => new TierCache({ codec: { name: 'x', encode: () => new Uint8Array(0) } as never })).toThrow(
      /options\.codec must be a Codec; it has no decode method/,
    )
  })
})

describe('storeConformanceSuite refuses a misspelled option, listing the valid ones', () => {
  it('fenceMS (for fenceMs) is a TypeError, not the tombstone tests silently skipped', async () => {
    // Seen: the suite ignored unknown options; with `fenceMS: 300` the tests that wait out the fence
    // window did not run, and the suite passed.
    const { storeConformanceSuite } = await import('../src/testing/index.js')
    expect(() => storeConformanceSuite('typo', { create: () => new MemoryStore(), fenceMS: 300 } as never)).toThrow(
      new TypeError(
        'options.fenceMS is not an option; valid options: create, destroy, toleranceMs, fenceMs, createPeer, destroyPeer',
      ),
    )
  })
})

describe('getFresh checks its arguments as get does', () => {
  it('a bad key is a TypeError naming it, though getFresh answers from L1 alone', () => {
    const cache = new TierCache<string>()
    expect(() => cache.getFresh('')).toThrow(/key must be a non-empty string/)
    expect(() => cache.getFresh(5 as unknown as string)).toThrow(TypeError)
    expect(() => cache.getFresh('\ud800')).toThrow(/well-formed/)
    expect(cache.getFresh('absent')).toBeUndefined()
  })

  it('an accept that is not a function is a TypeError naming it, on a hit and on a miss', async () => {
    const cache = new TierCache<string>()
    await cache.set('k', 'v')
    expect(() => cache.getFresh('k', 'yes' as unknown as (value: string) => boolean)).toThrow(
      /accept must be a function/,
    )
    expect(() => cache.getFresh('absent', {} as unknown as (value: string) => boolean)).toThrow(TypeError)
    expect(cache.getFresh('k', (value) => value === 'v')).toBe('v')
    expect(cache.getFresh('k', () => false)).toBeUndefined()
  })
})
