// Tags in core: ctx.tags / set({ tags }) attach tags; invalidateTag makes the
// entries stale, deleteTag makes them misses; O(1) on the store; a tag
// operation that resolved is never undone by a load that started before it.
import { ChaosStore } from '@tiercache/core/testing'
import { describe, expect, it } from 'vitest'
import {
  type InvalidationBus,
  type InvalidationEvent,
  type InvalidationHandler,
  MemoryStore,
  NOT_MODIFIED,
  SET_OPTION_NAMES,
  StoreError,
  TierCache,
} from '../src/index.js'
import { ManualClock, tick, until } from './fixtures.js'

/** An in-process bus: delivers each event, a turn later, to the other nodes' handlers of its namespace. */
class LocalBus {
  readonly published: InvalidationEvent[] = []
  readonly #subscribers = new Set<{ readonly namespace: string; readonly handler: InvalidationHandler }>()
  node(): InvalidationBus {
    const mine = new Set<{ readonly namespace: string; readonly handler: InvalidationHandler }>()
    return {
      publish: (event) => {
        this.published.push(event)
        for (const other of this.#subscribers) {
          if (mine.has(other) || other.namespace !== event.namespace) continue
          setImmediate(() =>
            event.kind === 'purge' ? other.handler.invalidateAll() : other.handler.invalidate(event.keys),
          )
        }
      },
      subscribe: (namespace, handler) => {
        const subscriber = { namespace, handler }
        mine.add(subscriber)
        this.#subscribers.add(subscriber)
        return () => this.#subscribers.delete(subscriber)
      },
    }
  }
}

function setup(options: { ttl?: number; staleTtl?: number; resurrectTtl?: number } = {}) {
  const clock = new ManualClock()
  const store = new MemoryStore({ clock })
  const cache = new TierCache<string>({ name: 'tags', store, clock, ttl: 10_000, ...options })
  return { clock, store, cache }
}

/** A loader that tags its value and counts its calls. */
function tagging(tags: string[], label = 'v') {
  let calls = 0
  return {
    get calls() {
      return calls
    },
    loader: async (_key: string, ctx: { tags: string[] }) => {
      calls++
      ctx.tags = tags
      return `${label}${calls}`
    },
  }
}

describe('tags', () => {
  it('deleteTag makes every entry tagged by its loader a miss; untagged and other tags stay', async () => {
    const { cache } = setup()
    const a = tagging(['user:1'])
    const b = tagging(['user:2'])
    expect(await cache.get('a', a.loader)).toBe('v1')
    expect(await cache.get('b', b.loader)).toBe('v1')
    await cache.set('c', 'plain')
    expect(await cache.get('a', a.loader)).toBe('v1')
    expect(a.calls).toBe(1)
    await cache.deleteTag('user:1')
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.get('a', a.loader)).toBe('v2')
    expect(await cache.get('b', b.loader)).toBe('v1')
    expect(await cache.get('c')).toBe('plain')
    expect(a.calls).toBe(2)
  })

  it('getFresh serves a fresh tagged entry synchronously until its tag is invalidated or deleted', async () => {
    const { cache } = setup({ staleTtl: 5_000 })
    await cache.set('k', 'v', { tags: ['t'] })
    expect(cache.getFresh('k')).toBe('v')
    await cache.invalidateTag('t')
    expect(cache.getFresh('k')).toBeUndefined()
    await cache.set('k', 'v2', { tags: ['t'] })
    expect(cache.getFresh('k')).toBe('v2')
    await cache.deleteTag('t')
    expect(cache.getFresh('k')).toBeUndefined()
  })

  it('set(key, value, { tags }) attaches tags', async () => {
    const { cache } = setup()
    await cache.set('k', 'v', { tags: ['t', 'u'] })
    expect(await cache.get('k')).toBe('v')
    await cache.deleteTag('u')
    expect(await cache.get('k')).toBeUndefined()
    expect(cache.peek('k')).toBeUndefined()
  })

  it('invalidateTag serves the entry stale within its stale window while one caller refreshes', async () => {
    const { cache } = setup({ staleTtl: 5_000 })
    const l = tagging(['t'])
    expect(await cache.get('k', l.loader)).toBe('v1')
    await cache.invalidateTag('t')
    expect(cache.peek('k')?.stale).toBe(true)
    const got = await cache.getWithInfo('k', l.loader)
    expect(got).toMatchObject({ value: 'v1', stale: true, reason: 'refreshing' })
    await until(() => l.calls === 2)
    await until(() => cache.peek('k')?.value === 'v2')
    expect(await cache.getWithInfo('k', l.loader)).toMatchObject({ value: 'v2', hitLevel: 1, stale: false })
    expect(l.calls).toBe(2)
  })

  it('a NOT_MODIFIED answer after invalidateTag makes the tagged value fresh again (restamped), on every node', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const a = new TierCache<string>({ name: 'tags-304', store, clock, staleTtl: 0 })
    const b = new TierCache<string>({ name: 'tags-304', store, clock, staleTtl: 0 })
    let calls = 0
    const loader = async (_key: string, ctx: { tags: string[] }) => {
      calls++
      if (calls === 1) {
        ctx.tags = ['t']
        return 'v'
      }
      return NOT_MODIFIED
    }
    expect(await a.get('k', loader)).toBe('v')
    await a.invalidateTag('t')
    expect(await a.getWithInfo('k', loader)).toMatchObject({ value: 'v', hitLevel: 3 })
    expect(calls).toBe(2)
    expect(await a.getWithInfo('k', loader)).toMatchObject({ value: 'v', hitLevel: 1 })
    expect(await b.getWithInfo('k', loader)).toMatchObject({ value: 'v', hitLevel: 2 })
    expect(calls).toBe(2)
    // Still tagged: a delete reaches it.
    await a.deleteTag('t')
    expect(await a.get('k')).toBeUndefined()
  })

  it('invalidateTag without a stale window: the next read loads (the stale value is not served)', async () => {
    const { cache } = setup({ staleTtl: 0 })
    const l = tagging(['t'])
    await cache.get('k', l.loader)
    await cache.invalidateTag('t')
    expect(await cache.getWithInfo('k', l.loader)).toMatchObject({ value: 'v2', hitLevel: 3 })
  })

  it('a deleted tag entry is never served stale, nor resurrected when the reload fails', async () => {
    const { cache } = setup({ staleTtl: 5_000, resurrectTtl: 5_000 })
    await cache.get('k', tagging(['t']).loader)
    await cache.deleteTag('t')
    const failing = async () => {
      throw new Error('origin down')
    }
    await expect(cache.get('k', failing)).rejects.toThrow()
    expect(await cache.get('k')).toBeUndefined()
  })

  it('an invalidated entry may still be resurrected when the reload fails (it is stale, not deleted)', async () => {
    const { cache } = setup({ staleTtl: 0, resurrectTtl: 5_000 })
    await cache.get('k', tagging(['t']).loader)
    await cache.invalidateTag('t')
    const failing = async () => {
      throw new Error('origin down')
    }
    expect(await cache.getWithInfo('k', failing)).toMatchObject({ value: 'v1', reason: 'resurrected' })
  })

  it('another node on the same store sees deleteTag and invalidateTag through the bus', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const bus = new LocalBus()
    const a = new TierCache<string>({ name: 'tags-nodes', store, clock, ipc: bus.node(), staleTtl: 5_000 })
    const b = new TierCache<string>({ name: 'tags-nodes', store, clock, ipc: bus.node(), staleTtl: 5_000 })
    const l = tagging(['t'])
    expect(await a.get('k', l.loader)).toBe('v1')
    expect(await b.get('k')).toBe('v1')
    expect(await a.get('k')).toBe('v1')
    await b.invalidateTag('t')
    await tick()
    expect(await a.getWithInfo('k')).toMatchObject({ value: 'v1', stale: true })
    await b.deleteTag('t')
    await tick()
    expect(await a.get('k')).toBeUndefined()
    // The operation goes out with its number, so the other nodes stamp their next loads past it.
    expect(bus.published.flatMap((e) => e.keys)).toEqual(['\u0000tag:1:t', '\u0000tag:2:t'])
  })

  it('a node without a bus sees another node’s deleteTag once its tag state is older than ttl', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const a = new TierCache<string>({ name: 'tags-nobus', store, clock, ttl: 1_000, lruSize: 0 })
    const b = new TierCache<string>({ name: 'tags-nobus', store, clock, ttl: 1_000, lruSize: 0 })
    await a.set('k', 'v', { tags: ['t'], ttl: 60_000 })
    expect(await a.get('k')).toBe('v')
    await b.deleteTag('t')
    // a's tag state of t was read before the delete and is trusted for ttl, as an L1 value would be.
    expect(await a.get('k')).toBe('v')
    clock.advance(1_000)
    expect(await a.get('k')).toBeUndefined()
  })

  it('a node that just started stamps past older tag operations once it read the epoch (warmTags, or a tagged set)', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const old = new TierCache<string>({ name: 'tags-start', store, clock })
    await old.deleteTag('t')
    await old.deleteTag('t')
    // New nodes, no bus: they never heard of the deletes; what they write must still be fresh for the fleet.
    const warmed = new TierCache<string>({ name: 'tags-start', store, clock })
    await warmed.warmTags()
    expect(await warmed.get('k', tagging(['t']).loader)).toBe('v1')
    expect(await old.getWithInfo('k')).toMatchObject({ value: 'v1', hitLevel: 2 })
    const setter = new TierCache<string>({ name: 'tags-start', store, clock })
    await setter.set('s', 'set-value', { tags: ['t'] })
    expect(await old.getWithInfo('s')).toMatchObject({ value: 'set-value', hitLevel: 2 })
    // Without either, the first tagged load is stamped 0: judged deleted once (too much, never too little).
    const cold = new TierCache<string>({ name: 'tags-start', store, clock })
    expect(await cold.get('c', tagging(['t']).loader)).toBe('v1')
    expect(await old.get('c')).toBeUndefined()
  })

  it('a node that hears of a tag operation on the bus stamps its next loads past it', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const bus = new LocalBus()
    const a = new TierCache<string>({ name: 'tags-heard', store, clock, ipc: bus.node() })
    const b = new TierCache<string>({ name: 'tags-heard', store, clock, ipc: bus.node() })
    await a.get('warm', tagging(['other']).loader) // a has read the epoch (0) already
    await b.deleteTag('t')
    await tick()
    // a never read t's record; the bus told it the operation's number.
    expect(await a.get('k', tagging(['t']).loader)).toBe('v1')
    expect(await b.getWithInfo('k')).toMatchObject({ value: 'v1', hitLevel: 2 })
  })

  it('a load that started before deleteTag and finishes after it is not served as fresh (race)', async () => {
    const { cache } = setup()
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = cache.get('k', async (_key, ctx) => {
      await gate
      ctx.tags = ['t']
      return 'before'
    })
    await tick()
    await cache.deleteTag('t')
    // A get after the delete resolved does not join the load that started before it.
    const after = cache.get('k', async (_key, ctx) => {
      ctx.tags = ['t']
      return 'after'
    })
    release()
    expect(await slow).toBe('before') // its own caller overlapped the delete
    expect(await after).toBe('after')
    expect(await cache.get('k')).toBe('after')
  })

  it('a load that started before deleteTag on another node writes nothing that node or this one serves', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const bus = new LocalBus()
    const a = new TierCache<string>({ name: 'tags-race', store, clock, ipc: bus.node() })
    const b = new TierCache<string>({ name: 'tags-race', store, clock, ipc: bus.node() })
    // b has heard of an older tag operation, so its stamp is not 0.
    await b.invalidateTag('other')
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = b.get('k', async (_key, ctx) => {
      await gate
      ctx.tags = ['t']
      return 'before'
    })
    await tick()
    await a.deleteTag('t')
    release()
    await slow
    await tick()
    expect(await b.get('k')).toBeUndefined()
    expect(await a.get('k')).toBeUndefined()
  })

  it('a set that started before deleteTag resolved is deleted by it', async () => {
    const { cache, store } = setup()
    // The set's store write stalls until the delete has taken its number.
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const set = store.set.bind(store)
    let held = false
    store.set = async (ns, key, write) => {
      if (key === 'k' && !held) {
        held = true
        await gate
      }
      return set(ns, key, write)
    }
    const writing = cache.set('k', 'old', { tags: ['t'] })
    await tick()
    await cache.deleteTag('t')
    release()
    await writing
    expect(await cache.get('k')).toBeUndefined()
  })

  it('set(..., { tags, loadedBy: ctx }) from inside a loader is stamped as of that load, not of the set', async () => {
    const { cache } = setup()
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const loading = cache.get('index', async (_key, ctx) => {
      await gate
      await cache.set('variant', 'rendered-before', { tags: ['t'], loadedBy: ctx })
      await cache.set('unstamped', 'rendered-before', { tags: ['t'] })
      return 'index'
    })
    await tick()
    await cache.deleteTag('t')
    release()
    await loading
    expect(await cache.get('variant')).toBeUndefined()
    // Without loadedBy the set counts from when it started: after the delete.
    expect(await cache.get('unstamped')).toBe('rendered-before')
    await expect(cache.set('k', 'v', { tags: ['t'], loadedBy: {} })).rejects.toThrow(
      /options\.loadedBy must be the ctx/,
    )
  })

  it('getMany: bulk loaders tag through ctx.tags, and the store path judges tagged records', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const a = new TierCache<string>({ name: 'tags-many', store, clock })
    const b = new TierCache<string>({ name: 'tags-many', store, clock })
    expect(
      await a.getMany(['x', 'y'], async (keys, ctx) => {
        ctx.tags = ['bulk']
        return keys.map((k) => `v-${k}`)
      }),
    ).toEqual(['v-x', 'v-y'])
    await a.deleteTag('bulk')
    // b has never seen the entries nor the tag: it reads both from the store.
    expect(await b.getMany(['x', 'y'])).toEqual([undefined, undefined])
    expect(await a.getMany(['x', 'y'])).toEqual([undefined, undefined])
  })

  it('a tagged miss (loader returned null) is deleted by its tag too', async () => {
    const { cache } = setup()
    let calls = 0
    const loader = async (_key: string, ctx: { tags: string[] }) => {
      calls++
      ctx.tags = ['t']
      return calls === 1 ? null : 'found'
    }
    expect(await cache.get('k', loader)).toBeUndefined()
    expect(await cache.get('k', loader)).toBeUndefined()
    expect(calls).toBe(1)
    await cache.deleteTag('t')
    expect(await cache.get('k', loader)).toBe('found')
  })

  it.each(['deleteTag', 'invalidateTag'] as const)(
    '%s is O(1) on the store: the same calls for 1 and for 200 tagged entries',
    async (operation) => {
      const count = async (entries: number) => {
        const clock = new ManualClock()
        const store = new ChaosStore(new MemoryStore({ clock }))
        const cache = new TierCache<string>({ name: 'tags-o1', store, clock })
        for (let i = 0; i < entries; i++) await cache.set(`k${i}`, 'v', { tags: ['t'] })
        store.calls.clear()
        await cache[operation]('t')
        return [...store.calls.values()].reduce((a, b) => a + b, 0)
      }
      const one = await count(1)
      expect(one).toBeGreaterThan(0)
      expect(one).toBeLessThanOrEqual(4)
      expect(await count(200)).toBe(one)
    },
  )

  it('rejects with the StoreError when the store fails, and caches no tag state read during the outage', async () => {
    const clock = new ManualClock()
    const store = new ChaosStore(new MemoryStore({ clock }))
    const cache = new TierCache<string>({ name: 'tags-outage', store, clock, lruSize: 0, ttl: 1_000 })
    const node = new TierCache<string>({ name: 'tags-outage', store, clock, lruSize: 0, ttl: 1_000 })
    await cache.set('k', 'v', { tags: ['t'] })
    store.mode = 'throw'
    await expect(cache.deleteTag('t')).rejects.toBeInstanceOf(StoreError)
    await expect(cache.invalidateTag('t')).rejects.toBeInstanceOf(StoreError)
    // node reads nothing during the outage (a failed read is no "never operated on"); without a loader
    // its get rejects with the store's error rather than answer "absent" (docs/consistency.md).
    await expect(node.get('k')).rejects.toBeInstanceOf(StoreError)
    store.mode = 'ok'
    expect(await node.get('k')).toBe('v')
    await cache.deleteTag('t')
    clock.advance(1_000) // no bus: node trusts the tag state it read for ttl
    expect(await node.get('k')).toBeUndefined()
  })

  it('a tagged entry whose tag states cannot be read is a miss, and is loaded, while the store fails', async () => {
    const clock = new ManualClock()
    const store = new ChaosStore(new MemoryStore({ clock }))
    const cache = new TierCache<string>({ name: 'tags-unknown', store, clock })
    const other = new TierCache<string>({ name: 'tags-unknown', store, clock })
    const l = tagging(['t'])
    await cache.get('k', l.loader)
    store.mode = 'throw'
    // other has no tag state for t: it cannot judge the entry, and loads.
    expect(await other.get('k', tagging(['t'], 'o').loader)).toBe('o1')
  })

  it('uses the cache’s storeTimeout for the tag namespace, not a default', async () => {
    const clock = new ManualClock()
    const store = new ChaosStore(new MemoryStore({ clock }))
    const cache = new TierCache<string>({ name: 'tags-timeout', store, clock, storeTimeout: 30 })
    store.mode = 'stall'
    const started = Date.now()
    await expect(cache.deleteTag('t')).rejects.toMatchObject({ kind: 'timeout' })
    expect(Date.now() - started).toBeLessThan(900)
  })

  it('refuses bad tags with a TypeError naming them', async () => {
    const { cache } = setup()
    await expect(cache.deleteTag('')).rejects.toThrow(/tag must be a non-empty string/)
    await expect(cache.invalidateTag(7 as unknown as string)).rejects.toThrow(TypeError)
    await expect(cache.set('k', 'v', { tags: 'x' as unknown as string[] })).rejects.toThrow(/options\.tags/)
    await expect(cache.set('k', 'v', { tags: ['\ud800'] })).rejects.toThrow(/options\.tags\[0\]/)
    await expect(
      cache.get('k', async (_key, ctx) => {
        ctx.tags = [''] as string[]
        return 'v'
      }),
    ).rejects.toThrow(/ctx\.tags\[0\]/)
    expect(SET_OPTION_NAMES).toContain('tags')
    await expect(cache.set('k', 'v', { tag: ['x'] } as never)).rejects.toThrow(/valid options: .*tags/)
  })

  it('an untagged entry is still served from the hot path; a tagged one from L1 after its tags are checked', async () => {
    const { store } = setup()
    const chaos = new ChaosStore(store)
    const c = new TierCache<string>({ name: 'tags-hot', store: chaos, clock: new ManualClock() })
    await c.set('plain', 'p')
    await c.set('tagged', 't', { tags: ['t'] })
    // set read the tag's state while it wrote: L1 answers alone.
    chaos.calls.clear()
    expect(await c.getWithInfo('tagged')).toMatchObject({ value: 't', hitLevel: 1 })
    expect(await c.get('plain')).toBe('p')
    expect(chaos.calls.size).toBe(0)
  })
})
