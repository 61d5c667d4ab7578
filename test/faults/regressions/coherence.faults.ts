// Regression candidates: the smallest reproductions of violations the faults
// suite found (fleet histories and shrunk fast-check counterexamples), written
// as plain tests of the documented behaviour. They FAIL on the code of
// 2026-11-30; once fixed they belong in `pnpm test` (see docs/reliability.md).
// Several caches on one MemoryStore stand for several nodes on one Redis.
import { MemoryStore, StoreError, TierCache } from '@tiercache/core'
import { ChaosStore } from '@tiercache/core/testing'
import { BroadcastChannelIpc } from '@tiercache/ipc'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../../packages/core/test/fixtures.js'

/** A loader whose calls wait until released; each call resolves `${label}${n}`. */
function gatedLoader(label: string) {
  const gates: (() => void)[] = []
  let calls = 0
  const loader = async () => {
    const n = ++calls
    await new Promise<void>((resolve) => gates.push(resolve))
    return `${label}${n}`
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

const tick = () => new Promise((resolve) => setImmediate(resolve))
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await tick()
  if (!check()) throw new Error('condition not reached')
}

describe('coherence regressions (fail today)', () => {
  it('a get that starts after delete() resolved does not return the load the delete superseded', async () => {
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

  it('a set during a background refresh is not overwritten by the refresh (value found stale in the store)', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const writer = new TierCache<string>({ name: 'r2', store, clock, ttl: 100, staleTtl: 1_000 })
    const node = new TierCache<string>({ name: 'r2', store, clock, ttl: 100, staleTtl: 1_000 })
    await writer.set('k', 'v1')
    clock.t += 150
    const refresh = gatedLoader('refresh-')
    // node has no L1 copy: it finds v1 stale in the store, serves it and refreshes in the background.
    expect(await node.get('k', refresh.loader)).toBe('v1')
    await until(() => refresh.calls === 1)
    await node.set('k', 'v2')
    refresh.releaseAll()
    for (let i = 0; i < 10; i++) await tick()
    expect(await node.get('k', async () => 'loaded')).toBe('v2')
    const reader = new TierCache<string>({ name: 'r2', store, clock, ttl: 100, staleTtl: 1_000 })
    expect(await reader.get('k')).toBe('v2')
  })

  it("a load that finishes after another node's set does not overwrite it in the store", async () => {
    // Fleet history "no fault": B697 on B (hitLevel 2) read L|C|711 from the store, a load that started before B696 (delete on B).
    const store = new MemoryStore()
    const loading = new TierCache<string>({ name: 'r3', store })
    const writer = new TierCache<string>({ name: 'r3', store })
    const slow = gatedLoader('old-load-')
    const load = loading.get('k', slow.loader)
    await until(() => slow.calls === 1)
    await writer.set('k', 'newer')
    slow.releaseAll()
    await load
    const reader = new TierCache<string>({ name: 'r3', store })
    expect(await reader.get('k')).toBe('newer')
  })

  it('a get that starts after purge() resolved does not return the load the purge superseded', async () => {
    // Shrunk fast-check counterexample (races.faults.ts, seed 5):
    //   [get(A, k), purge(A), get(A, k), purge(A)] → get4@A returned L|A|2, older than purge3@A
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
    // Shrunk fast-check counterexample (races.faults.ts, seed 1):
    //   [get(A, j), get(B, j), purge(A), release] → A loaded again while B's load (started after the purge) was fresh
    const store = new MemoryStore()
    const channel = `r7-${Date.now()}`
    const busA = new BroadcastChannelIpc({ channel, coalesceMs: 0 })
    const busB = new BroadcastChannelIpc({ channel, coalesceMs: 0 })
    const a = new TierCache<string>({ name: 'r7', store, ipc: busA })
    const b = new TierCache<string>({ name: 'r7', store, ipc: busB })
    try {
      const loads = gatedLoader('load-')
      const first = a.get('j', loads.loader) // A loads, holding the key's lock
      await until(() => loads.calls === 1)
      const second = b.get('j', loads.loader) // B waits for A's lock
      await a.purge() // supersedes A's load (it started before the purge)
      await new Promise((resolve) => setTimeout(resolve, 20)) // the purge reaches B
      loads.releaseAll()
      await first
      await until(() => loads.calls === 2) // B loads after the purge: a value worth keeping
      loads.releaseAll()
      const kept = await second
      let again = 0
      const value = await a.get('j', async () => {
        again++
        return 'loaded-again'
      })
      expect({ value, again }).toEqual({ value: kept, again: 0 })
    } finally {
      a.close()
      b.close()
      await busA.close()
      await busB.close()
    }
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
    // Shrunk fast-check counterexample (model.faults.ts, MemoryStore):
    //   options {"ttl":0,"negTtl":0,"staleTtl":0,"resurrectTtl":0,"refreshRetryDelay":50}, steps [get(a) without loader]
    const cache = new TierCache<string>({ name: 'r5' })
    const got = await cache.getWithInfo('a')
    expect(got.value).toBeUndefined()
    expect(got.hitLevel).not.toBe(3)
  })
})
