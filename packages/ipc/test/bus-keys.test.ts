import { MemoryStore, TierCache } from '@tiercache/core'
import { describe, expect, it } from 'vitest'
import { BroadcastChannelIpc } from '../src/index.js'

// Keys as they travel between nodes: a user's key must reach the other nodes as that key, and
// nothing else (the bus also carries tag operations as keys).

let channels = 0

async function received(cache: TierCache<string>, count: number): Promise<void> {
  const deadline = Date.now() + 5000
  while (cache.stats().busReceived < count) {
    if (Date.now() > deadline) throw new Error('nothing received')
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe('keys on the bus', () => {
  it('a user key that reads like a tag operation does not raise other nodes’ tag stamps (invalidateTag still works)', async () => {
    const channel = `bus-keys-${process.pid}-${channels++}`
    const ipcA = new BroadcastChannelIpc({ channel })
    const ipcB = new BroadcastChannelIpc({ channel })
    const store = new MemoryStore()
    const a = new TierCache<string>({ name: 'posts', store, ipc: ipcA })
    const b = new TierCache<string>({ name: 'posts', store, ipc: ipcB })
    try {
      await Promise.all([a.warmTags(), b.warmTags()])
      let loads = 0
      const loader = async (_key: string, ctx: { tags?: string[] }) => {
        ctx.tags = ['t']
        return `v${++loads}`
      }
      // Node A deletes a key of its own that happens to start like the bus form of a tag operation.
      await a.delete('\u0000tag:1000000:x')
      await received(b, 1)
      expect(await b.get('p', loader)).toBe('v1') // loaded (and stamped) on B after that
      await a.invalidateTag('t')
      await received(b, 2)
      // invalidateTag resolved: no value loaded before it is served as fresh with the tag, on either node.
      const onB = await b.getWithInfo('p', loader)
      expect(onB.value === 'v1' && !onB.stale).toBe(false)
      const onA = await a.getWithInfo('p', loader)
      expect(onA.value === 'v1' && !onA.stale).toBe(false)
    } finally {
      a.close()
      b.close()
      await Promise.all([ipcA.close(), ipcB.close()])
    }
  })

  it('a user key starting with NUL still evicts that key, and only it, on the other nodes', async () => {
    const channel = `bus-keys-${process.pid}-${channels++}`
    const ipcA = new BroadcastChannelIpc({ channel })
    const ipcB = new BroadcastChannelIpc({ channel })
    const store = new MemoryStore()
    const a = new TierCache<string>({ name: 'users', store, ipc: ipcA })
    const b = new TierCache<string>({ name: 'users', store, ipc: ipcB })
    const keys = ['\u0000k', '\u0000\u0000k', 'k', '\u0000tag:1:t']
    try {
      for (const key of keys) await a.set(key, `old ${key}`)
      await received(b, keys.length)
      for (const key of keys) expect(await b.get(key)).toBe(`old ${key}`) // in B's L1
      await a.set('\u0000\u0000k', 'new')
      await received(b, keys.length + 1)
      expect(keys.map((key) => b.peek(key)?.value)).toEqual(['old \u0000k', undefined, 'old k', 'old \u0000tag:1:t'])
      await a.delete('\u0000tag:1:t')
      await received(b, keys.length + 2)
      expect(b.peek('\u0000tag:1:t')).toBeUndefined()
      expect(await b.get('\u0000\u0000k')).toBe('new')
    } finally {
      a.close()
      b.close()
      await Promise.all([ipcA.close(), ipcB.close()])
    }
  })

  it('a NUL-led key sent unescaped by a node of an older version still evicts that key here (rolling upgrade)', async () => {
    const channel = `bus-keys-${process.pid}-${channels++}`
    const older = new BroadcastChannelIpc({ channel }) // stands for a node that does not escape keys
    const ipcB = new BroadcastChannelIpc({ channel })
    const store = new MemoryStore()
    const b = new TierCache<string>({ name: 'users', store, ipc: ipcB })
    const keys = ['\u0000\u0000k', '\u0000tag:1:t']
    try {
      for (const key of keys) await b.set(key, `old ${key}`)
      // The older node's set of these keys: its bus carries each key as it is.
      for (const key of keys) await older.publish({ kind: 'set', namespace: 'users', keys: [key] })
      await received(b, keys.length)
      // Evicting a key too many is safe; keeping one the other node changed is not.
      expect(keys.map((key) => b.peek(key)?.value)).toEqual([undefined, undefined])
    } finally {
      b.close()
      await Promise.all([older.close(), ipcB.close()])
    }
  })
})
