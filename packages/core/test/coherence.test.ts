// Coherence: once set/delete/purge resolves, no load, refresh, read or resurrect
// that started before it overwrites it, in L1 or in the store; a failed write
// rejects and leaves no node serving what the store does not hold
// (docs/consistency.md). Several caches on one MemoryStore stand for several
// nodes on one Redis. The first five are the faults suite's reproductions
// (test/faults/regressions on the faults branch), named after what broke.
import { ChaosStore } from '@tiercache/core/testing'
import { describe, expect, it } from 'vitest'
import {
  type InvalidationBus,
  type InvalidationEvent,
  type InvalidationHandler,
  LoaderError,
  MemoryStore,
  StoreCallError,
  StoreError,
  TierCache,
} from '../src/index.js'
import { SingleFlight } from '../src/single-flight.js'
import { ManualClock, tick, until } from './fixtures.js'

/** A loader whose calls wait until released; call n resolves `produce(n, ...its arguments)`. */
function gated<A extends unknown[], R>(produce: (n: number, ...args: A) => R) {
  const gates: (() => void)[] = []
  let calls = 0
  const loader = async (...args: A) => {
    const n = ++calls
    await new Promise<void>((resolve) => gates.push(resolve))
    return produce(n, ...args)
  }
  return {
    loader,
    get calls() {
      return calls
    },
    releaseAll() {
      for (const open of gates.splice(0)) open()
    },
  }
}

const gatedLoader = (label: string) => gated((n) => `${label}${n}`)
const gatedBulkLoader = (label: string) => gated((_n, keys: string[]) => keys.map((key) => `${label}${key}`))

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await tick()
}

/** An in-process invalidation bus: records what was published and delivers it, a turn later, to the other nodes. */
class LocalBus {
  readonly published: InvalidationEvent[] = []
  readonly #subscribers = new Set<{ readonly namespace: string; readonly handler: InvalidationHandler }>()

  /** The bus as one node sees it. */
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

describe('coherence regressions (found by the faults suite)', () => {
  it('a get that starts after delete() resolved does not join the load the delete superseded', async () => {
    // Fleet history "no fault": C28 on C (hitLevel 3) returned L|C|26, older than C27 (delete on C).
    const cache = new TierCache<string>({ name: 'r1' })
    const slow = gatedLoader('before-delete-')
    const first = cache.get('k', slow.loader)
    await until(() => slow.calls === 1)
    await cache.delete('k')
    const after = cache.get('k', async () => 'after-delete')
    slow.releaseAll()
    await first
    expect(await after).toBe('after-delete')
  })

  it('a set during a background refresh (value found stale in the store) is not overwritten by the refresh', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const writer = new TierCache<string>({ name: 'r2', store, clock, ttl: 100, staleTtl: 1_000 })
    const node = new TierCache<string>({ name: 'r2', store, clock, ttl: 100, staleTtl: 1_000 })
    await writer.set('k', 'v1')
    clock.advance(150)
    const refresh = gatedLoader('refresh-')
    // node has no L1 copy: it finds v1 stale in the store, serves it and refreshes in the background.
    expect(await node.get('k', refresh.loader)).toBe('v1')
    await until(() => refresh.calls === 1)
    await node.set('k', 'v2')
    refresh.releaseAll()
    await settle()
    expect(await node.get('k', async () => 'loaded')).toBe('v2')
    const reader = new TierCache<string>({ name: 'r2', store, clock, ttl: 100, staleTtl: 1_000 })
    expect(await reader.get('k')).toBe('v2')
  })

  it("a load that finishes after another node's set does not overwrite it in the store", async () => {
    // Fleet history "no fault": B697 on B (hitLevel 2) read L|C|711 from the store, a load that started before B696.
    const store = new MemoryStore()
    const loading = new TierCache<string>({ name: 'r3', store })
    const writer = new TierCache<string>({ name: 'r3', store })
    const slow = gatedLoader('old-load-')
    const load = loading.get('k', slow.loader)
    await until(() => slow.calls === 1)
    await writer.set('k', 'newer')
    slow.releaseAll()
    // Its own caller still gets what it loaded (the calls overlapped), but nothing is cached.
    expect(await load).toBe('old-load-1')
    expect(loading.peek('k')).toBeUndefined()
    expect(await new TierCache<string>({ name: 'r3', store }).get('k')).toBe('newer')
    expect(await loading.get('k')).toBe('newer')
  })

  it('a get that starts after purge() resolved does not return the load the purge superseded', async () => {
    // Shrunk fast-check counterexample (races.faults.ts, seed 5): [get(A, k), purge(A), get(A, k), purge(A)].
    const cache = new TierCache<string>({ name: 'r6' })
    const slow = gatedLoader('before-purge-')
    const first = cache.get('k', slow.loader)
    await until(() => slow.calls === 1)
    await cache.purge()
    const after = cache.get('k', async () => 'after-purge')
    slow.releaseAll()
    await first
    expect(await after).toBe('after-purge')
  })

  it('a load that starts after a purge is kept: the next get on another node does not load again', async () => {
    // Shrunk fast-check counterexample (races.faults.ts, seed 1): [get(A, j), get(B, j), purge(A), release].
    const store = new MemoryStore()
    const bus = new LocalBus()
    const a = new TierCache<string>({ name: 'r7', store, ipc: bus.node() })
    const b = new TierCache<string>({ name: 'r7', store, ipc: bus.node() })
    const loads = gatedLoader('load-')
    const first = a.get('j', loads.loader) // A loads, holding the key's lock
    await until(() => loads.calls === 1)
    const second = b.get('j', loads.loader) // B waits for A's lock
    await a.purge() // supersedes A's load (it started before the purge)
    await settle() // the purge reaches B
    loads.releaseAll()
    await until(() => loads.calls === 2) // B loads after the purge: a value worth keeping
    loads.releaseAll()
    const kept = await second
    await first
    let again = 0
    const value = await a.get('j', async () => {
      again++
      return 'loaded-again'
    })
    expect({ value, again }).toEqual({ value: kept, again: 0 })
  })

  it('set() rejects with a StoreError when the store write fails, and serves nothing the store lacks', async () => {
    const chaos = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'r4', store: chaos })
    cache.on('error', () => {})
    await cache.set('k', 'v1')
    chaos.mode = 'throw'
    await expect(cache.set('k', 'v2')).rejects.toBeInstanceOf(StoreError)
    chaos.mode = 'ok'
    const other = new TierCache<string>({ name: 'r4', store: chaos })
    expect(await cache.get('k')).toBe(await other.get('k'))
  })

  it('getWithInfo without a loader does not report hitLevel 3 (loader) for a miss where no loader ran', async () => {
    // Shrunk fast-check counterexample (model.faults.ts, MemoryStore).
    const cache = new TierCache<string>({ name: 'r5', ttl: 0, negTtl: 0, staleTtl: 0, resurrectTtl: 0 })
    const got = await cache.getWithInfo('a')
    expect(got.value).toBeUndefined()
    expect(got.hitLevel).not.toBe(3)
    expect(got).toEqual({ value: undefined, hitLevel: 0, stale: false }) // 0: not found (result.ts)
  })

  // The faults suite, redis SIGSTOP: an in-flight read that timed out was answered as a miss.
  it('a get without a loader whose store read timed out rejects with a StoreError instead of reporting a miss', async () => {
    const chaos = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'r6', store: chaos, storeTimeout: 30 })
    const reported: unknown[] = []
    cache.on('error', (error) => reported.push(error))
    const writer = new TierCache<string>({ name: 'r6', store: chaos })
    await writer.set('k', 'v')
    chaos.mode = 'stall' // the read is sent and never answered: the key may well be there
    const read = cache.getWithInfo('k')
    await expect(read).rejects.toBeInstanceOf(StoreCallError)
    await expect(read).rejects.toMatchObject({ kind: 'timeout', outcome: 'unknown' })
    await expect(cache.get('k')).rejects.toBeInstanceOf(StoreError)
    chaos.mode = 'throw'
    await expect(cache.get('k')).rejects.toBeInstanceOf(StoreError)
    expect(reported.length).toBeGreaterThanOrEqual(3)
    chaos.mode = 'ok'
    expect(await cache.get('k')).toBe('v')
  })

  it('a getMany without a loader whose store read failed rejects instead of reporting misses', async () => {
    const chaos = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'r7', store: chaos, storeTimeout: 30 })
    cache.on('error', () => {})
    await cache.set('a', 'A')
    const other = new TierCache<string>({ name: 'r7', store: chaos, storeTimeout: 30 })
    other.on('error', () => {})
    chaos.mode = 'stall'
    await expect(other.getMany(['a', 'b'])).rejects.toBeInstanceOf(StoreError)
    chaos.mode = 'ok'
    expect(await other.getMany(['a', 'b'])).toEqual(['A', undefined])
    // With a loader there is something to answer with: the store failing degrades to it.
    chaos.mode = 'throw'
    expect(await other.getMany(['a', 'c'], async (keys) => keys.map((k) => `L${k}`))).toEqual(['A', 'Lc'])
  })
})

describe('every piece of work on a key holds a ticket a write supersedes', () => {
  it('a refresh started from inside a flight (stale value in the store) is superseded by a set', async () => {
    // Same node, value only in the store: the flight serves it stale and starts the refresh.
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    await new TierCache<string>({ name: 't1', store, clock, ttl: 100, staleTtl: 1_000 }).set('k', 'v1')
    const node = new TierCache<string>({ name: 't1', store, clock, ttl: 100, staleTtl: 1_000, lruSize: 10 })
    clock.advance(150)
    const refresh = gatedLoader('refresh-')
    expect(await node.getWithInfo('k', refresh.loader)).toMatchObject({ value: 'v1', reason: 'refreshing' })
    await until(() => refresh.calls === 1)
    await node.set('k', 'v2')
    refresh.releaseAll()
    await settle()
    expect(node.peek('k')?.value).toBe('v2')
    expect(await new TierCache<string>({ name: 't1', store, clock }).get('k')).toBe('v2')
  })

  it('a get without a loader racing a set does not put the older read into L1', async () => {
    const inner = new MemoryStore()
    await new TierCache<string>({ name: 't2', store: inner }).set('k', 'old')
    let release!: () => void
    const slowRead = Object.assign(Object.create(inner) as MemoryStore, {
      read: async (ns: string, key: string) => {
        const read = await inner.read(ns, key) // reads 'old' now...
        await new Promise<void>((resolve) => {
          release = resolve
        })
        return read // ...and answers after the set
      },
      set: inner.set.bind(inner),
    })
    const cache = new TierCache<string>({ name: 't2', store: slowRead })
    const reading = cache.get('k')
    await until(() => release !== undefined)
    await cache.set('k', 'new')
    release()
    expect(await reading).toBe('old') // overlapped the set: either answer is allowed
    expect(cache.peek('k')?.value).toBe('new')
    expect(await cache.get('k')).toBe('new')
  })

  it('tickets are dropped when their work settles: nothing grows per key', async () => {
    const flights = new SingleFlight<number>()
    const a = flights.mark('k')
    const b = flights.mark('k')
    const flight = flights.start('k', async () => 1)
    expect(flights.size).toBe(1)
    flights.supersede('k')
    expect([a.superseded, b.superseded]).toEqual([true, true])
    expect(flights.get('k')).toBeUndefined() // callers from now on start a new flight
    flights.unmark('k', a)
    flights.unmark('k', b)
    await flight
    expect(flights.size).toBe(0)
  })
})

describe('getMany takes part in single flight', () => {
  it('a get of a key getMany is loading joins it: one loader call, not two', async () => {
    const cache = new TierCache<string>({ name: 'm1' })
    const bulk = gatedBulkLoader('bulk-')
    let singleCalls = 0
    const many = cache.getMany(['a', 'b'], bulk.loader)
    await until(() => bulk.calls === 1)
    const one = cache.get('a', async () => {
      singleCalls++
      return 'single'
    })
    bulk.releaseAll()
    expect(await many).toEqual(['bulk-a', 'bulk-b'])
    expect(await one).toBe('bulk-a')
    expect(singleCalls).toBe(0)
  })

  it('a get that starts while getMany reads the store joins it instead of loading again', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'm2', store })
    let bulkCalls = 0
    let singleCalls = 0
    const many = cache.getMany(['a'], async (keys) => {
      bulkCalls++
      return keys.map(() => 'bulk')
    })
    const one = cache.get('a', async () => {
      singleCalls++
      return 'single'
    })
    expect(await many).toEqual(['bulk'])
    expect(await one).toBe('bulk')
    expect([bulkCalls, singleCalls]).toEqual([1, 0])
    expect(store.count('read')).toBe(0) // the get joined, it did not read for itself
  })

  it("a set during getMany's store read is not overwritten by the older read", async () => {
    const inner = new MemoryStore()
    await new TierCache<string>({ name: 'm6', store: inner }).set('a', 'old')
    let release!: () => void
    const slowRead = Object.assign(Object.create(inner) as MemoryStore, {
      readMany: async (ns: string, keys: readonly string[]) => {
        const reads = await inner.readMany(ns, keys)
        await new Promise<void>((resolve) => {
          release = resolve
        })
        return reads
      },
      set: inner.set.bind(inner),
    })
    for (const loader of [undefined, async (keys: string[]) => keys.map(() => 'bulk')]) {
      const cache = new TierCache<string>({ name: 'm6', store: slowRead })
      release = undefined as never
      const many = loader ? cache.getMany(['a'], loader) : cache.getMany(['a'])
      await until(() => release !== undefined)
      await cache.set('a', 'new')
      release()
      expect(await many).toEqual(['old'])
      expect(cache.peek('a')?.value).toBe('new')
      await cache.set('a', 'old')
    }
  })

  it('a set during a bulk load is not lost, here or in the store', async () => {
    const store = new MemoryStore()
    const cache = new TierCache<string>({ name: 'm3', store })
    const bulk = gatedBulkLoader('bulk-')
    const many = cache.getMany(['a', 'b'], bulk.loader)
    await until(() => bulk.calls === 1)
    await cache.set('a', 'set')
    bulk.releaseAll()
    await many
    expect(cache.peek('a')?.value).toBe('set')
    expect(cache.peek('b')?.value).toBe('bulk-b')
    expect(await new TierCache<string>({ name: 'm3', store }).get('a')).toBe('set')
  })

  it('a set on another node during a bulk load is not overwritten in the store', async () => {
    const store = new MemoryStore()
    const cache = new TierCache<string>({ name: 'm4', store })
    const bulk = gatedBulkLoader('bulk-')
    const many = cache.getMany(['a', 'b'], bulk.loader)
    await until(() => bulk.calls === 1)
    await new TierCache<string>({ name: 'm4', store }).set('a', 'set')
    bulk.releaseAll()
    await many
    expect(cache.peek('a')).toBeUndefined() // refused in the store, so not cached here
    expect(await new TierCache<string>({ name: 'm4', store }).get('a')).toBe('set')
    expect(await new TierCache<string>({ name: 'm4', store }).get('b')).toBe('bulk-b')
  })

  it('getMany without a loader registers no flight a loading get could join', async () => {
    const cache = new TierCache<string>({ name: 'm5' })
    const many = cache.getMany(['a'])
    const one = cache.get('a', async () => 'loaded')
    expect(await many).toEqual([undefined])
    expect(await one).toBe('loaded')
  })
})

describe('fenced store writes', () => {
  it('a delete on another node during a load is not undone by it', async () => {
    const store = new MemoryStore()
    const loading = new TierCache<string>({ name: 'f1', store })
    await loading.set('k', 'v1')
    const other = new TierCache<string>({ name: 'f1', store })
    // The load reads the store first: expire nothing, load a missing key instead.
    const slow = gatedLoader('old-')
    const load = loading.get('k2', slow.loader)
    await until(() => slow.calls === 1)
    await other.set('k2', 'set')
    await other.delete('k2')
    slow.releaseAll()
    await load
    expect(await new TierCache<string>({ name: 'f1', store }).get('k2')).toBeUndefined()
  })

  it('a purge during a load is not undone by it', async () => {
    const store = new MemoryStore()
    const loading = new TierCache<string>({ name: 'f2', store })
    const slow = gatedLoader('old-')
    const load = loading.get('k', slow.loader)
    await until(() => slow.calls === 1)
    await new TierCache<string>({ name: 'f2', store }).purge()
    slow.releaseAll()
    await load
    expect(loading.peek('k')).toBeUndefined()
    expect(await new TierCache<string>({ name: 'f2', store }).get('k')).toBeUndefined()
  })

  it('a load with nothing written meanwhile is written back and cached as before', async () => {
    const store = new MemoryStore()
    const cache = new TierCache<string>({ name: 'f3', store })
    expect(await cache.getWithInfo('k', async () => 'v')).toEqual({ value: 'v', hitLevel: 3, stale: false })
    expect(cache.peek('k')?.value).toBe('v')
    expect(await new TierCache<string>({ name: 'f3', store }).getWithInfo('k')).toMatchObject({ hitLevel: 2 })
  })
})

describe('a failed user write rejects and leaves no node serving what the store does not hold', () => {
  it.each(['throw', 'stall'] as const)(
    'set (%s): rejects with the store error, drops this node L1 copy, still tells the others',
    async (mode) => {
      const chaos = new ChaosStore(new MemoryStore())
      const bus = new LocalBus()
      const cache = new TierCache<string>({ name: 'w1', store: chaos, ipc: bus.node(), storeTimeout: 50 })
      cache.on('error', () => {})
      await cache.set('k', 'v1')
      expect(cache.peek('k')?.value).toBe('v1')
      chaos.mode = mode
      const error = await cache.set('k', 'v2').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StoreCallError)
      // A throw says nothing of whether it landed; a time-out may land later.
      expect((error as StoreCallError).outcome).toBe('unknown')
      if (mode === 'stall') expect((error as StoreCallError).kind).toBe('timeout')
      expect(cache.peek('k')).toBeUndefined()
      expect(bus.published.at(-1)).toEqual({ kind: 'set', namespace: 'w1', keys: ['k'] })
      chaos.mode = 'ok'
      expect(await cache.get('k')).toBe('v1') // re-read: what the store holds
    },
  )

  it.each(['throw', 'stall'] as const)('delete and purge (%s) reject and still tell the others', async (mode) => {
    const chaos = new ChaosStore(new MemoryStore())
    const bus = new LocalBus()
    const cache = new TierCache<string>({ name: 'w2', store: chaos, ipc: bus.node(), storeTimeout: 50 })
    cache.on('error', () => {})
    await cache.set('k', 'v1')
    chaos.mode = mode
    await expect(cache.delete('k')).rejects.toBeInstanceOf(StoreError)
    expect(cache.peek('k')).toBeUndefined()
    expect(bus.published.at(-1)).toEqual({ kind: 'delete', namespace: 'w2', keys: ['k'] })
    await expect(cache.purge()).rejects.toBeInstanceOf(StoreError)
    expect(bus.published.at(-1)).toEqual({ kind: 'purge', namespace: 'w2', keys: [] })
    expect(cache.stats().storeErrors).toBe(2)
  })

  it("the store's own StoreCallError reaches the caller as it is", async () => {
    const inner = new MemoryStore()
    const refused = new StoreCallError({ operation: 'set', kind: 'circuit-open', outcome: 'not-applied' })
    const store = Object.assign(Object.create(inner) as MemoryStore, {
      set: async () => {
        throw refused
      },
    })
    const cache = new TierCache<string>({ name: 'w3', store })
    cache.on('error', () => {})
    await expect(cache.set('k', 'v')).rejects.toBe(refused)
  })
})

describe('resurrected values in the store', () => {
  it('another node reports a value resurrected after a failed load as resurrected, not as a level-2 hit', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const options = { name: 'z1', store, clock, ttl: 1_000, staleTtl: 0, resurrectTtl: 2_000 }
    const failing = new TierCache<string>(options)
    await failing.set('k', 'v1')
    clock.advance(1_000)
    const resurrected = { value: 'v1', hitLevel: 4, stale: true, reason: 'resurrected' }
    expect(
      await failing.getWithInfo('k', async () => {
        throw new Error('origin down')
      }),
    ).toEqual(resurrected)
    const other = new TierCache<string>(options)
    expect(await other.getWithInfo('k', async () => 'loaded')).toEqual(resurrected)
    expect(await other.getWithInfo('k')).toEqual(resurrected) // now from its L1
    expect(await new TierCache<string>(options).getMany(['k'], async () => ['loaded'])).toEqual(['v1'])
    expect((await store.get('z1', 'k'))?.resurrected).toBe(true)
  })

  it('a resurrect does not overwrite a set that landed during the failed load', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const options = { name: 'z2', store, clock, ttl: 1_000, staleTtl: 0, resurrectTtl: 2_000 }
    const node = new TierCache<string>(options)
    await node.set('k', 'v1')
    clock.advance(1_000)
    let fail!: () => void
    const failing = node.get('k', () => new Promise<string>((_, reject) => (fail = () => reject(new Error('down')))))
    await until(() => fail !== undefined)
    await new TierCache<string>(options).set('k', 'v2')
    fail()
    expect(await failing).toBe('v1')
    expect(node.peek('k')?.stale).not.toBe(false) // the refused resurrect re-armed nothing here
    expect(await node.get('k')).toBe('v2')
    expect(await new TierCache<string>(options).get('k')).toBe('v2')
  })
})

describe('a load that waited through a write', () => {
  it('neither revalidates nor resurrects the value from before it', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const bus = new LocalBus()
    const options = { name: 'p1', store, clock, ttl: 1_000, staleTtl: 0, resurrectTtl: 5_000 }
    const a = new TierCache<string>({ ...options, ipc: bus.node() })
    const b = new TierCache<string>({ ...options, ipc: bus.node() })
    await b.set('k', 'before')
    clock.advance(1_000) // expired, still kept for a resurrect
    const slow = gatedLoader('a-')
    const first = a.get('k', slow.loader) // A takes the lock
    await until(() => slow.calls === 1)
    let staleValue: unknown = 'loader not called'
    const second = b.get('k', async (_key, ctx) => {
      staleValue = ctx.staleValue
      throw new Error('origin down')
    }) // B waits for A's lock, holding 'before'
    await a.purge()
    await settle() // the purge reaches B
    slow.releaseAll()
    await first
    await expect(second).rejects.toBeInstanceOf(LoaderError)
    expect(staleValue).toBeUndefined()
    expect(await store.get('p1', 'k')).toBeUndefined()
    expect(await b.get('k')).toBeUndefined()
  })
})

describe('invalidations that concern an older write', () => {
  it('a load superseded by one still lands in the store (the fence decides): nobody loads again', async () => {
    const store = new MemoryStore()
    const bus = new LocalBus()
    const node = new TierCache<string>({ name: 's1', store, ipc: bus.node() })
    const slow = gatedLoader('loaded-')
    const loading = node.get('k', slow.loader)
    await until(() => slow.calls === 1)
    // Another node tells of a change to k that the store already held when this load read it.
    bus.node().publish({ kind: 'refresh', namespace: 's1', keys: ['k'] })
    await settle()
    slow.releaseAll()
    expect(await loading).toBe('loaded-1')
    let again = 0
    const loadAgain = async () => {
      again++
      return 'again'
    }
    expect(await new TierCache<string>({ name: 's1', store }).get('k', loadAgain)).toBe('loaded-1')
    expect(await node.get('k', loadAgain)).toBe('loaded-1')
    expect(again).toBe(0)
  })

  it('a refresh the store refused is not announced to the other nodes', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const bus = new LocalBus()
    const options = { name: 's2', store, clock, ttl: 100, staleTtl: 1_000 }
    const node = new TierCache<string>({ ...options, ipc: bus.node() })
    const writer = new TierCache<string>({ ...options, ipc: bus.node() })
    await writer.set('k', 'v1')
    expect(await node.get('k')).toBe('v1')
    clock.advance(150)
    const refresh = gatedLoader('refresh-')
    expect(await node.get('k', refresh.loader)).toBe('v1') // stale, refreshing
    await until(() => refresh.calls === 1)
    await writer.set('k', 'v2')
    refresh.releaseAll()
    await settle()
    expect(bus.published.map((event) => event.kind)).toEqual(['set', 'set'])
    expect(await node.get('k')).toBe('v2')
  })
})

describe('the lock of a loader that never settles', () => {
  it('is no longer extended past the hard timeout: it frees itself one lease later', async () => {
    const store = new MemoryStore()
    const calls = { extend: 0 }
    const extend = store.lock.extend!
    store.lock.extend = (...args) => {
      calls.extend++
      return extend(...args)
    }
    const hung = new TierCache<string>({ name: 'l1', store, lockLease: 40, hardTimeout: 0, lockWait: 100 })
    void hung.get('k', () => new Promise<string>(() => {}))
    await new Promise((resolve) => setTimeout(resolve, 400))
    // Extended every 20 ms during the first 100 ms (the lock wait) only, not for 400 ms.
    expect(calls.extend).toBeGreaterThan(0)
    expect(calls.extend).toBeLessThanOrEqual(5)
    expect(await store.lock.acquire('l1', 'k', 1_000)).toBeTypeOf('string')
  })

  it('another process waits at most the lock wait, and once the lease ran out nobody waits', async () => {
    const store = new MemoryStore()
    // No hard timeout (its default is finite): the lease is then extended up to the lock wait only.
    const options = { name: 'l2', store, lockLease: 60, lockWait: 150, hardTimeout: 0 }
    void new TierCache<string>(options).get('k', () => new Promise<string>(() => {}))
    await tick()
    const other = new TierCache<string>(options)
    let started = Date.now()
    expect(await other.get('k', async () => 'loaded')).toBe('loaded')
    expect(Date.now() - started).toBeLessThan(150 + 100)
    await other.delete('k')
    // Extended until the lock wait (150 ms) at most, so free one lease (60 ms) later.
    await new Promise((resolve) => setTimeout(resolve, 150))
    started = Date.now()
    expect(await new TierCache<string>({ ...options, lockWait: 5_000 }).get('k', async () => 'again')).toBe('again')
    expect(Date.now() - started).toBeLessThan(100)
  })
})

describe('a failed load falls back only on what the store holds at the version it read', () => {
  // Seen: node B held k in L1 (stale, inside its resurrect window); node A deleted k; B's next get, its
  // loader failing, found the store empty (A's tombstone), resurrected its own copy from before the delete
  // and wrote it back at the tombstone's version, which the fence took: A, whose delete had resolved,
  // then served the deleted value, as did every other node, for the whole resurrect window.
  const failing = async (): Promise<string> => {
    throw new Error('origin down')
  }

  it("a load that fails after another node's delete does not resurrect its copy from before the delete into the store", async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const options = { name: 'r-tomb', store, clock, ttl: 1_000, resurrectTtl: 5_000 }
    const b = new TierCache<string>(options)
    const a = new TierCache<string>(options)
    b.on('error', () => {})
    expect(await b.get('k', async () => 'before-delete')).toBe('before-delete')
    clock.advance(1_500) // stale, still held for a resurrection
    await a.delete('k')
    await b.getWithInfo('k', failing).catch(() => undefined)
    expect(await a.get('k')).toBeUndefined()
    expect((await store.read('r-tomb', 'k')).record).toBeUndefined()
    expect(await new TierCache<string>(options).get('k')).toBeUndefined()
  })

  it('the same through getMany, and with the delete announced on the bus but not yet delivered', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const bus = new LocalBus()
    const options = { name: 'r-tomb-many', store, clock, ttl: 1_000, resurrectTtl: 5_000 }
    const b = new TierCache<string>({ ...options, ipc: bus.node() })
    const a = new TierCache<string>({ ...options, ipc: bus.node() })
    b.on('error', () => {})
    expect(await b.getMany(['k'], async () => ['before-delete'])).toEqual(['before-delete'])
    clock.advance(1_500)
    await a.delete('k')
    // The delete's invalidation reaches b a turn later: b's read below runs before it.
    await b.getMany(['k'], async () => failing().then((v) => [v])).catch(() => undefined)
    await settle()
    expect(await a.get('k')).toBeUndefined()
    expect(await b.get('k')).toBeUndefined()
    expect((await store.read('r-tomb-many', 'k')).record).toBeUndefined()
  })
})
