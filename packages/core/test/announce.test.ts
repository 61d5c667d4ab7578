import {
  type Announcement,
  type InvalidationBus,
  type InvalidationEvent,
  MemoryStore,
  type StoreChange,
  StoreError,
  type StoreWrite,
  TierCache,
} from '@tiercache/core'
import { describe, expect, it } from 'vitest'

/** A MemoryStore that takes announcements made for it, and records which writes carried one. */
class AnnouncingStore extends MemoryStore {
  readonly carried: string[] = []
  failing = false

  announces(announcement: Announcement): boolean {
    return announcement.via === this
  }

  override async set(namespace: string, key: string, write: StoreWrite) {
    if (this.failing) throw new Error('down')
    if (write.announce) this.carried.push(`set ${key}`)
    return super.set(namespace, key, write)
  }

  override async delete(namespace: string, key: string, change?: StoreChange) {
    if (change?.announce) this.carried.push(`delete ${key}`)
    return super.delete(namespace, key)
  }

  override async purge(namespace: string, change?: StoreChange) {
    if (change?.announce) this.carried.push('purge')
    return super.purge(namespace)
  }
}

/** A bus that records what the cache asks of it; its announcements name `via`. */
function bus(via: object) {
  const calls: string[] = []
  const name = (event: InvalidationEvent) => `${event.kind} ${event.keys.join(',')}`.trim()
  const value: InvalidationBus = {
    publish: (event) => {
      calls.push(`publish ${name(event)}`)
    },
    subscribe: () => () => {},
    announcement: () => ({ via, channel: 'c', message: Uint8Array.of(1), sharded: false }),
    announced: (event) => {
      calls.push(`announced ${name(event)}`)
    },
  }
  return { value, calls }
}

describe('the store publishes the invalidation with the write, when bus and store agree', () => {
  it('set, delete and purge carry the announcement; the bus only tells siblings', async () => {
    const store = new AnnouncingStore()
    const { value: ipc, calls } = bus(store)
    const cache = new TierCache<string>({ name: 'n', store, ipc })
    await cache.set('k', 'v')
    await cache.delete('k')
    await cache.purge()
    expect(store.carried).toEqual(['set k', 'delete k', 'purge'])
    expect(calls).toEqual(['announced set k', 'announced delete k', 'announced purge'])
    expect(cache.stats().busPublished).toBe(3)
  })

  it('a store that declines (another connection) gets none, and the bus publishes', async () => {
    const store = new AnnouncingStore()
    const { value: ipc, calls } = bus({})
    const cache = new TierCache<string>({ name: 'n', store, ipc })
    await cache.set('k', 'v')
    await cache.purge()
    expect(store.carried).toEqual([])
    expect(calls).toEqual(['publish set k', 'publish purge'])
  })

  it('a failed write publishes through the bus: the script may not have run', async () => {
    const store = new AnnouncingStore()
    const { value: ipc, calls } = bus(store)
    const cache = new TierCache<string>({ name: 'n', store, ipc })
    cache.on('error', () => {})
    store.failing = true
    await expect(cache.set('k', 'v')).rejects.toBeInstanceOf(StoreError)
    expect(calls).toEqual(['publish set k'])
  })
})
