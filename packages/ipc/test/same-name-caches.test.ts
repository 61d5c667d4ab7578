import { MemoryStore, TierCache } from '@tiercache/core'
import { describe, expect, it } from 'vitest'
import { BroadcastChannelIpc } from '../src/index.js'

// Regression (issue 10): two caches with the same name in one process on one bus never invalidated
// each other, because a node drops every message carrying its own id.
describe('two caches of the same name on one bus in one process', () => {
  it('invalidate each other at once on set, delete and purge', async () => {
    const ipc = new BroadcastChannelIpc({ channel: `same-name-${process.pid}` })
    const store = new MemoryStore()
    const a = new TierCache<string>({ name: 'users', store, ipc })
    const b = new TierCache<string>({ name: 'users', store, ipc })
    try {
      await a.set('k', 'v1')
      expect(await b.get('k')).toBe('v1') // now in b's L1
      await a.set('k', 'v2')
      expect(b.peek('k')).toBeUndefined()
      expect(await b.get('k')).toBe('v2')
      expect(a.peek('k')?.value).toBe('v2') // the writer keeps what it wrote

      await b.delete('k')
      expect(a.peek('k')).toBeUndefined()

      await a.set('x', 'x1')
      expect(await b.get('x')).toBe('x1')
      await a.purge()
      expect(b.peek('x')).toBeUndefined()
    } finally {
      a.close()
      b.close()
      await ipc.close()
    }
  })
})

describe('a cache whose BroadcastChannelIpc was closed', () => {
  it('no longer serves L1 copies another thread may have changed since', async () => {
    const channel = `closed-bus-${process.pid}`
    const ipcA = new BroadcastChannelIpc({ channel })
    const ipcB = new BroadcastChannelIpc({ channel })
    const store = new MemoryStore()
    const a = new TierCache<string>({ name: 'users', store, ipc: ipcA })
    const b = new TierCache<string>({ name: 'users', store, ipc: ipcB })
    try {
      await a.set('k', 'v1')
      expect(await b.get('k')).toBe('v1') // in b's L1
      await ipcB.close() // b stays: it hears no other thread from now on
      await a.set('k', 'v2')
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(await b.get('k')).toBe('v2')
    } finally {
      a.close()
      b.close()
      await ipcA.close()
    }
  })
})
