import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { decodeMessage, type InvalidationMessage } from '../src/message.js'
import { Outbox } from '../src/outbox.js'

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
})
