import { ChaosStore } from '@tiercache/core/testing'
import { describe, expect, it, vi } from 'vitest'
import { LoaderError, MemoryStore, TierCache } from '../src/index.js'
import { cacheWithClock, countingLoader, tick } from './fixtures.js'

describe('getMany', () => {
  it('one store round trip, one loader call, values in the order of the keys', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'many', store })
    await cache.set('b', 'B')
    cache.peek('b') // in L1
    await new TierCache<string>({ name: 'many', store }).set('c', 'C') // only in the store
    const loader = vi.fn(async (keys: string[]) => keys.map((k) => (k === 'missing' ? undefined : k.toUpperCase())))
    const before = { read: store.count('read'), readMany: store.count('readMany') }
    const values = await cache.getMany(['a', 'b', 'c', 'd', 'a', 'missing'], loader)
    expect(values).toEqual(['A', 'B', 'C', 'D', 'A', undefined])
    expect(store.count('readMany')).toBe(before.readMany + 1)
    expect(store.count('read')).toBe(before.read)
    expect(loader).toHaveBeenCalledTimes(1)
    expect(loader.mock.calls[0]![0]).toEqual(['a', 'd', 'missing'])
    // all cached now, the miss too
    expect(await cache.getMany(['a', 'missing'], loader)).toEqual(['A', undefined])
    expect(loader).toHaveBeenCalledTimes(1)
  })

  it('refuses softTimeout, which a bulk call has no use for, rather than ignore it', async () => {
    const { cache } = cacheWithClock<string>()
    const loader = async (keys: readonly string[]) => keys.map((key) => key)
    await expect(cache.getMany(['a'], { softTimeout: 10 } as never, loader)).rejects.toThrow(
      /^options\.softTimeout is not an option; valid options: ttl, negTtl, staleTtl, resurrectTtl, hardTimeout, signal$/,
    )
    expect(await cache.getMany(['a'], { hardTimeout: '1s' }, loader)).toEqual(['a'])
  })

  it('concurrent single gets join the bulk load', async () => {
    const cache = new TierCache<string>({ name: 'many-join' })
    const loader = vi.fn(async (keys: string[]) => {
      await new Promise((r) => setTimeout(r, 30))
      return keys.map((k) => `${k}!`)
    })
    const single = countingLoader(() => 'single')
    const bulk = cache.getMany(['x', 'y'], loader)
    await tick()
    expect(await cache.get('x', single.loader)).toBe('x!')
    expect(await bulk).toEqual(['x!', 'y!'])
    expect(single.calls).toHaveLength(0)
  })

  it('a bulk loader of the wrong length is an error, not a silent wrong answer', async () => {
    const cache = new TierCache<string>({ name: 'many-bad' })
    await expect(cache.getMany(['a', 'b'], async () => ['only-one'])).rejects.toBeInstanceOf(LoaderError)
    await expect(cache.getMany('a' as never, async () => [])).rejects.toThrow(TypeError)
    await expect(cache.getMany(['a', ''], async () => [])).rejects.toThrow(/keys\[1\]/)
  })
})

describe('getMany joining a load that fails leaves no unhandled rejection (Node ends the process on one)', () => {
  // Seen: getMany(['a']) loading a, then getMany(['a', 'b']) joining a's load and loading b. When a's
  // loader failed while b's load ran (or after b's had failed), the joined promise had no handler yet (it
  // was awaited only after the call's own load) or never got one: an unhandled rejection, and a Node 20
  // process running the built package exited with code 1, every caller having handled its own rejection.
  const run = async (bFails: boolean) => {
    const unhandled: unknown[] = []
    const record = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', record)
    try {
      const cache = new TierCache<string>({ name: `join-fails-${bFails}` })
      cache.on('error', () => {})
      let failA: () => void = () => {}
      const first = cache.getMany(
        ['a'],
        () => new Promise<string[]>((_, reject) => (failA = () => reject(new Error('a down')))),
      )
      const firstSettled = first.catch((error: unknown) => error)
      await tick()
      let finishB: () => void = () => {}
      const second = cache.getMany(['a', 'b'], (keys) =>
        bFails
          ? Promise.reject(new Error('b down'))
          : new Promise<string[]>((resolve) => (finishB = () => resolve(keys.map((k) => `${k}!`)))),
      )
      const secondSettled = second.catch((error: unknown) => error)
      await tick()
      failA()
      for (let i = 0; i < 5; i++) await tick()
      finishB()
      expect(await firstSettled).toBeInstanceOf(LoaderError)
      // The call that joined a's failed load rejects with a failure, as before: b's own, or a's.
      expect(((await secondSettled) as LoaderError).key).toBe(bFails ? 'b' : 'a')
      for (let i = 0; i < 5; i++) await tick()
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', record)
    }
  }

  it("when a's load fails while the joining call's own load runs", () => run(false))
  it("when a's load fails after the joining call's own load has failed", () => run(true))
})
