import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { decodeMessage, type InvalidationMessage } from '../src/message.js'
import { Outbox } from '../src/outbox.js'
import { SequenceTracker } from '../src/sequence-tracker.js'

describe('Outbox', () => {
  let sent: InvalidationMessage[]
  const outbox = (coalesceMs = 5, maxBatchKeys = 100) =>
    new Outbox({
      nodeId: 'me',
      coalesceMs,
      maxBatchKeys,
      send: (namespace, bytes) => {
        const message = decodeMessage(bytes)
        expect(message.ns).toBe(namespace)
        sent.push(message)
      },
    })

  beforeEach(() => {
    sent = []
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('coalesces many invalidations of the same keys within the window into one message', () => {
    const box = outbox()
    for (let i = 0; i < 1000; i++) box.add({ kind: 'set', namespace: 'users', keys: [`u:${i % 10}`] })
    expect(sent).toHaveLength(0)
    vi.advanceTimersByTime(5)
    expect(sent).toHaveLength(1)
    expect(sent[0]!.ops).toEqual([{ kind: 'set', keys: Array.from({ length: 10 }, (_, i) => `u:${i}`) }])
  })

  it('keeps the last kind per key and groups keys by kind', () => {
    const box = outbox()
    box.add({ kind: 'set', namespace: 'users', keys: ['a', 'b'] })
    box.add({ kind: 'delete', namespace: 'users', keys: ['b'] })
    box.add({ kind: 'refresh', namespace: 'users', keys: ['c'] })
    box.flush()
    expect(sent[0]!.ops).toEqual([
      { kind: 'set', keys: ['a'] },
      { kind: 'delete', keys: ['b'] },
      { kind: 'refresh', keys: ['c'] },
    ])
  })

  it('lets a purge swallow every key of its namespace, before and after it', () => {
    const box = outbox()
    box.add({ kind: 'set', namespace: 'users', keys: ['a'] })
    box.add({ kind: 'purge', namespace: 'users', keys: [] })
    box.add({ kind: 'set', namespace: 'users', keys: ['b'] })
    box.add({ kind: 'set', namespace: 'posts', keys: ['p'] })
    box.flush()
    expect(sent.map((m) => [m.ns, m.ops])).toEqual([
      ['users', [{ kind: 'purge', keys: [] }]],
      ['posts', [{ kind: 'set', keys: ['p'] }]],
    ])
  })

  it('numbers messages per namespace from 1', () => {
    const box = outbox(0)
    box.add({ kind: 'set', namespace: 'users', keys: ['a'] })
    box.add({ kind: 'set', namespace: 'posts', keys: ['a'] })
    box.add({ kind: 'set', namespace: 'users', keys: ['a'] })
    expect(sent.map((m) => [m.ns, m.seq])).toEqual([
      ['users', 1],
      ['posts', 1],
      ['users', 2],
    ])
  })

  it('sends at once when coalescing is off', () => {
    outbox(0).add({ kind: 'delete', namespace: 'users', keys: ['a'] })
    expect(sent).toHaveLength(1)
  })

  it('sends a batch early when it reaches maxBatchKeys', () => {
    const box = outbox(1000, 3)
    for (const key of ['a', 'b', 'c', 'd']) box.add({ kind: 'set', namespace: 'users', keys: [key] })
    expect(sent.map((m) => m.ops[0]!.keys)).toEqual([['a', 'b', 'c']])
    vi.advanceTimersByTime(1000)
    expect(sent.map((m) => m.ops[0]!.keys)).toEqual([['a', 'b', 'c'], ['d']])
  })

  it('sends heartbeats that repeat the last sequence number and change nothing', () => {
    const box = outbox(0)
    box.heartbeat('users', 0)
    box.add({ kind: 'set', namespace: 'users', keys: ['a'] })
    box.heartbeat('users', 0)
    expect(sent.map((m) => [m.seq, m.ops.length])).toEqual([
      [0, 0],
      [1, 1],
      [1, 0],
    ])
  })

  it('sends nothing for a change without keys', () => {
    const box = outbox(0)
    box.add({ kind: 'set', namespace: 'users', keys: [] })
    box.flush()
    expect(sent).toHaveLength(0)
  })
  // Found by the faults suite's soak: caches of ever new namespaces grew the heap ~80 B per namespace here.
  it('forgets the number of a namespace whose last cache left, and never reuses numbers for it', () => {
    const box = outbox(0)
    for (let i = 0; i < 1000; i++) {
      box.add({ kind: 'purge', namespace: `ns-${i}`, keys: [] })
      box.forget(`ns-${i}`)
    }
    expect(box.namespaces).toBe(0)
    box.add({ kind: 'set', namespace: 'users', keys: ['a'] })
    box.add({ kind: 'set', namespace: 'users', keys: ['a'] })
    box.forget('users')
    // Back: numbered above everything sent before (a receiver that saw 3 must not drop it as old).
    box.add({ kind: 'set', namespace: 'users', keys: ['a'] })
    const users = sent.filter((m) => m.ns === 'users').map((m) => m.seq)
    expect(users).toEqual([users[0], users[0]! + 1, users[0]! + 2])
    // A namespace never sent on starts above every forgotten one too.
    box.heartbeat('fresh', 0)
    expect(sent.at(-1)!.seq).toBe(users[1])
  })

  it('makes the next message of a namespace a purge once one failed to go out, with the next change or heartbeat', async () => {
    const attempts: InvalidationMessage[] = []
    let failing = true
    const box = new Outbox({
      nodeId: 'me',
      coalesceMs: 0,
      maxBatchKeys: 100,
      send: (_namespace, bytes) => {
        attempts.push(decodeMessage(bytes))
        return Promise.resolve(!failing)
      },
    })
    await box.add({ kind: 'set', namespace: 'users', keys: ['lost'] })
    // Still failing: the heartbeat carries the purge first, which fails too, and is owed again.
    box.heartbeat('users', 1)
    await Promise.resolve()
    failing = false
    await box.add({ kind: 'set', namespace: 'users', keys: ['next'] })
    box.heartbeat('users', 2)
    await box.add({ kind: 'set', namespace: 'users', keys: ['after'] })
    expect(attempts.map((m) => [m.seq, m.ops])).toEqual([
      [1, [{ kind: 'set', keys: ['lost'] }]],
      [2, [{ kind: 'purge', keys: [] }]],
      [2, []],
      [3, [{ kind: 'purge', keys: [] }]], // swallows 'next'
      [3, []],
      [4, [{ kind: 'set', keys: ['after'] }]],
    ])
  })

  it('a publish that fails after the last cache of its namespace left still makes its next message a purge', async () => {
    const attempts: InvalidationMessage[] = []
    const results: ((sent: boolean) => void)[] = []
    const box = new Outbox({
      nodeId: 'me',
      coalesceMs: 0,
      maxBatchKeys: 100,
      send: (_namespace, bytes) => {
        attempts.push(decodeMessage(bytes))
        return new Promise<boolean>((resolve) => results.push(resolve))
      },
    })
    // In flight when the namespace's last cache leaves; the failure is known only after.
    void box.add({ kind: 'set', namespace: 'users', keys: ['lost'] })
    box.forget('users')
    results.shift()!(false)
    await Promise.resolve()
    await Promise.resolve()
    // A cache of the name comes back: a receiver that never heard this node accepts its first
    // number whatever it is, so only a purge tells it that 'lost' was missed.
    void box.add({ kind: 'set', namespace: 'users', keys: ['next'] })
    expect(attempts.at(-1)!.ops).toEqual([{ kind: 'purge', keys: [] }])
    expect(box.namespaces).toBe(1)
  })

  it('sends what is pending for a namespace when it is forgotten', () => {
    const box = outbox(50)
    box.add({ kind: 'delete', namespace: 'users', keys: ['a'] })
    expect(sent).toHaveLength(0)
    box.forget('users')
    expect(sent).toHaveLength(1)
    expect(box.namespaces).toBe(0)
  })
  it('a namespace that comes back is never "old" to a node that heard it before, so a loss after is noticed', () => {
    const box = outbox(0)
    const other = new SequenceTracker()
    const heard = () => other.observe('me', 'users', sent.at(-1)!.seq, sent.at(-1)!.ops.length === 0)
    for (const key of ['k1', 'k2', 'k3']) {
      box.add({ kind: 'set', namespace: 'users', keys: [key] })
      expect(heard()).toBe('next')
    }
    box.forget('users')
    box.add({ kind: 'set', namespace: 'users', keys: ['back'] })
    // Numbered from 1 again it would be "old" (and so would the next ones, a loss among them unseen).
    expect(heard()).toBe('next')
    box.add({ kind: 'set', namespace: 'users', keys: ['lost'] }) // never reaches the other node
    box.add({ kind: 'set', namespace: 'users', keys: ['after'] })
    expect(heard()).toBe('gap')
  })
})
