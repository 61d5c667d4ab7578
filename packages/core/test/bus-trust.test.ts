import { describe, expect, it } from 'vitest'
import {
  type InvalidationBus,
  type InvalidationHandler,
  MemoryStore,
  type SharedStore,
  TierCache,
} from '../src/index.js'

/** A bus that delivers nothing and lets the test say when it last proved it delivers everything. */
function silentBus() {
  const handlers: InvalidationHandler[] = []
  const bus: InvalidationBus = {
    publish: () => undefined,
    subscribe: (_namespace, handler) => {
      handlers.push(handler)
      return () => {}
    },
  }
  return { bus, confirm: (ageMs: number, maxStalenessMs: number) => handlers[0]!.confirmed!(ageMs, maxStalenessMs) }
}

function countingStore(): { store: SharedStore; reads: () => number } {
  const inner = new MemoryStore()
  let reads = 0
  // Every method of the real store, bound to it; single-key reads counted.
  const store = new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        if (property === 'get' || property === 'read') reads++
        return value.apply(target, args)
      }
    },
  }) as SharedStore
  return { store, reads: () => reads }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('L1 trust on the read path (a bus with heartbeats)', () => {
  it('serves L1 while the bus vouches for it, and re-reads the store once its confirmation is older than maxStaleness', async () => {
    const { bus, confirm } = silentBus()
    const { store, reads } = countingStore()
    const cache = new TierCache<string>({ name: 'trust', store, ipc: bus, ttl: 60_000 })
    await cache.set('k', 'v')
    confirm(0, 100)
    expect(await cache.get('k')).toBe('v')
    expect(reads()).toBe(0) // an L1 hit

    // No confirmation for longer than the bound (a paused process, a blocked loop): every read goes
    // to the store, on the hot path too, before the bus had any chance to deliver what it holds.
    await sleep(150)
    expect(await cache.get('k')).toBe('v')
    expect(await cache.getWithInfo('k')).toMatchObject({ hitLevel: 2 })
    expect(reads()).toBe(2)
    expect(cache.getFresh('k')).toBeUndefined() // the synchronous hot path trusts L1 no longer either

    // Confirmed again: L1 is trusted again.
    confirm(0, 100)
    expect(await cache.getWithInfo('k')).toMatchObject({ hitLevel: 1 })
    expect(cache.getFresh('k')).toBe('v')
    expect(reads()).toBe(2)
  })

  it('counts from when the confirming heartbeat left, not from when it came back', async () => {
    const { bus, confirm } = silentBus()
    const { store, reads } = countingStore()
    const cache = new TierCache<string>({ name: 'trust-age', store, ipc: bus })
    await cache.set('k', 'v')
    confirm(100, 100) // left 100 ms ago: already at the bound
    expect(await cache.getWithInfo('k')).toMatchObject({ hitLevel: 2 })
    expect(reads()).toBe(1)
  })
})

// Fleet faults, node SIGSTOP 2 s: once the stopped node ran again, two calls that started after
// another node's delete joined a load the node had started before it (and before the delete), and
// got its value, 1.9 s older than that delete. Heard of by the bus, the delete would have
// superseded that load; unheard of, only the age of the load can tell.
describe('joining a running load (a bus with heartbeats)', () => {
  /** A loader whose calls wait until released; returns `value` (the calls are counted). */
  function gatedLoader(value: string) {
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let calls = 0
    const loader = async () => {
      calls++
      await gate
      return value
    }
    return { loader, release: () => release(), calls: () => calls }
  }

  it('a caller joins no load older than maxStaleness once the bus has not vouched for that long', async () => {
    const { bus, confirm } = silentBus()
    const store = new MemoryStore()
    const node = new TierCache<string>({ name: 'join', store, ipc: bus, ttl: 60_000 })
    const other = new TierCache<string>({ name: 'join', store, ttl: 60_000 }) // another node, unheard of
    confirm(0, 50)
    const before = gatedLoader('loaded before the set')
    const first = node.get('k', before.loader)
    await sleep(10)
    expect(before.calls()).toBe(1)
    await other.set('k', 'set by another node')
    await sleep(80) // no confirmation for longer than the bound: the set may be unheard of
    const late = gatedLoader('loaded after the set')
    const second = node.get('k', late.loader)
    const many = node.getMany(['k'], async (keys) => keys.map(() => 'bulk-loaded'))
    before.release()
    late.release()
    expect(await first).toBe('loaded before the set') // its call overlapped the set
    expect(await second).toBe('set by another node')
    expect(await many).toEqual(['set by another node'])
    node.close()
    other.close()
  })

  it('while the bus vouches, callers still join the running load: one loader call', async () => {
    const { bus, confirm } = silentBus()
    const node = new TierCache<string>({ name: 'join2', store: new MemoryStore(), ipc: bus, ttl: 60_000 })
    confirm(0, 10_000)
    const gated = gatedLoader('v')
    const calls = [node.get('k', gated.loader)]
    await sleep(80)
    calls.push(node.get('k', gated.loader))
    const many = node.getMany(['k'], async (keys) => keys.map(() => 'bulk'))
    gated.release()
    expect(await Promise.all(calls)).toEqual(['v', 'v'])
    expect(await many).toEqual(['v'])
    expect(gated.calls()).toBe(1)
    node.close()
  })
})

describe('getMany holds to L1 trust when its load fails (nothing untrusted is served or resurrected)', () => {
  // Seen: getMany took L1's copy as the value a failed load falls back on without asking whether L1 may
  // be trusted. With the bus down (another node's delete unheard) and the loader failing, it served the
  // deleted value as fresh (200 ms on, within its TTL), or resurrected it (1.2 s on) and wrote it back over
  // the delete's tombstone, at the version it had just read: every node then served the deleted value.
  // `get` in the same state rejects.
  for (const [after, what] of [
    [200, 'within its TTL'],
    [1_200, 'past its TTL, inside the resurrect window'],
  ] as const) {
    it(`after another node's delete, unheard, ${what}: the load's failure rejects, and the store keeps the delete`, async () => {
      const clock = { t: 1_000_000, now: () => clock.t }
      const store = new MemoryStore({ clock })
      const handlers: InvalidationHandler[] = []
      const bus: InvalidationBus = {
        publish: () => undefined,
        subscribe: (_namespace, handler) => {
          handlers.push(handler)
          return () => {}
        },
      }
      const options = { name: 'gm-trust', store, clock, ttl: 1_000, resurrectTtl: 5_000 }
      const reader = new TierCache<string>({ ...options, ipc: bus })
      const writer = new TierCache<string>(options)
      reader.on('error', () => {})
      expect(await reader.get('k', async () => 'deleted-value')).toBe('deleted-value')
      handlers[0]!.disconnected(100) // the bus is down: L1 entries older than 100 ms are not trusted
      await writer.delete('k')
      clock.t += after
      const failing = async () => {
        throw new Error('origin down')
      }
      await expect(reader.get('k', failing)).rejects.toThrow(/origin down/)
      await expect(reader.getMany(['k'], failing)).rejects.toThrow(/origin down/)
      expect(await writer.get('k')).toBeUndefined()
      expect((await store.read('gm-trust', 'k')).record).toBeUndefined()
    })
  }
})
