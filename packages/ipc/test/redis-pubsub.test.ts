import { busConformanceSuite, recorder, type TestBus } from '@tiercache/ipc/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { IpcError } from '../src/errors.js'
import { decodeMessage, encodeMessage, WIRE_VERSION } from '../src/message.js'
import { RedisPubSubIpc, type RedisPubSubIpcOptions } from '../src/redis-pubsub.js'
import { type Redis, type RedisServer, startRedisServer } from './redis-server.js'

let server: RedisServer
const clients: Redis[] = []
let channelCount = 0

beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())))
  await server.stop()
})

function client(options: Parameters<RedisServer['client']>[0] = {}): Redis {
  const redis = server.client(options)
  clients.push(redis)
  return redis
}

/** A node: a bus with connections of its own, on `channel`. */
function node(channel: string, options: Partial<RedisPubSubIpcOptions> = {}): RedisPubSubIpc {
  return new RedisPubSubIpc({ publisher: client(), subscriber: client(), channel, ...options })
}

/** Resolve once `namespace` is live on `bus` (subscribed and its first heartbeat back). */
async function live(bus: RedisPubSubIpc, namespace: string): Promise<void> {
  await waitFor(() => bus.isLive(namespace))
}

busConformanceSuite('RedisPubSubIpc', {
  async pair() {
    const channel = `conformance-${channelCount++}`
    const a = node(channel)
    const b = node(channel)
    return {
      a: a as TestBus,
      b: b as TestBus,
      close: async () => {
        await Promise.all([a.close(), b.close()])
      },
    }
  },
  async subscribe(bus, namespace, handler) {
    const unsubscribe = bus.subscribe(namespace, handler)
    await live(bus as RedisPubSubIpc, namespace)
    return unsubscribe
  },
})

describe('RedisPubSubIpc on a real Redis', () => {
  it('sends one message per namespace on its channel for a burst of invalidations of the same keys', async () => {
    // A window wide enough that ten turns of a loaded machine's event loop fit in it (20 ms did not, twice).
    const a = node('burst', { coalesceMs: 250 })
    const watcher = client()
    const seen: Buffer[] = []
    watcher.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      if (decodeMessage(message).ops.length > 0) seen.push(message) // not the heartbeats
    })
    await watcher.subscribe(a.channelOf('users'))
    // 1000 invalidations of 10 hot keys over several turns of the event loop, inside one window.
    const started = performance.now()
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < 100; i++) a.publish({ kind: 'set', namespace: 'users', keys: [`hot:${i % 10}`] })
      await new Promise((resolve) => setImmediate(resolve))
    }
    const tookMs = performance.now() - started
    await waitFor(() => seen.length >= 1)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(tookMs, 'the burst must fit in the window for this test to mean anything').toBeLessThan(250)
    expect(seen).toHaveLength(1)
    const message = decodeMessage(seen[0]!)
    expect(message).toMatchObject({ v: WIRE_VERSION, node: a.nodeId, ns: 'users', seq: 1 })
    expect(message.ops).toEqual([{ kind: 'set', keys: Array.from({ length: 10 }, (_, i) => `hot:${i}`) }])
    await a.close()
  })

  it('sends one message per publish when they are further apart than the window', async () => {
    const a = node('apart', { coalesceMs: 2 })
    const watcher = client()
    const seqs: number[] = []
    watcher.on('messageBuffer', (_channel: Buffer, message: Buffer) => seqs.push(decodeMessage(message).seq))
    await watcher.subscribe(a.channelOf('users'))
    for (let i = 0; i < 5; i++) {
      a.publish({ kind: 'set', namespace: 'users', keys: ['k'] })
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await waitFor(() => seqs.length >= 5)
    expect(seqs).toEqual([1, 2, 3, 4, 5])
    await a.close()
  })

  it('bounds L1 trust while the subscriber is killed, and resubscribes by itself', async () => {
    const subscriber = client({ connectionName: 'ipc-kill-me' })
    const a = node('kill')
    const b = new RedisPubSubIpc({ publisher: client(), subscriber, channel: 'kill', maxStalenessMs: 750 })
    const onB = recorder()
    b.subscribe('users', onB)
    await live(b, 'users')
    const before = onB.calls.length

    const killed = await client().client('KILL', 'USER', 'default', 'TYPE', 'pubsub', 'SKIPME', 'yes')
    expect(killed).toBeGreaterThanOrEqual(1)
    await onB.until((calls) => calls.slice(before).some((call) => call.method === 'reconnected'))
    expect(onB.calls.slice(before)).toEqual([
      { method: 'disconnected', maxStalenessMs: 750 },
      { method: 'reconnected' },
    ])
    expect(b.isLive('users')).toBe(true)

    a.publish({ kind: 'set', namespace: 'users', keys: ['after-kill'] })
    await onB.until(() => onB.keys().includes('after-kill'))
    await Promise.all([a.close(), b.close()])
  })

  it('treats a jump in a sender sequence as lost messages and drops the namespace L1', async () => {
    const b = node('gap')
    const onB = recorder()
    const gaps: unknown[] = []
    b.on('gap', (info) => gaps.push(info))
    b.subscribe('users', onB)
    await live(b, 'users')
    const raw = client()
    const send = (seq: number, keys: string[]) =>
      raw.publish(
        b.channelOf('users'),
        Buffer.from(
          encodeMessage({
            v: WIRE_VERSION,
            node: 'other',
            ns: 'users',
            seq,
            ops: keys.map((k) => ({ kind: 'set', keys: [k] })),
          }),
        ),
      )
    await send(1, ['one'])
    await send(2, ['two'])
    await send(4, ['four']) // 3 was lost
    await send(4, []) // a heartbeat repeating 4: nothing lost since
    await send(6, []) // a heartbeat after 5 was lost
    await onB.until(() => onB.count('invalidateAll') === 2)
    expect(onB.keys()).toEqual(['one', 'two'])
    expect(gaps).toEqual([
      { namespace: 'users', sender: 'other', seq: 4 },
      { namespace: 'users', sender: 'other', seq: 6 },
    ])
    await b.close()
  })

  it('applies a message the store published with a write without checking its sequence number', async () => {
    const b = node('store-published')
    const onB = recorder()
    const gaps: unknown[] = []
    b.on('gap', (info) => gaps.push(info))
    b.subscribe('users', onB)
    await live(b, 'users')
    const raw = client()
    const send = (seq: number, keys: string[], store?: true) =>
      raw.publish(
        b.channelOf('users'),
        Buffer.from(
          encodeMessage({
            v: WIRE_VERSION,
            node: 'other',
            ns: 'users',
            seq,
            ops: keys.map((k) => ({ kind: 'set', keys: [k] })),
            ...(store ? { store } : {}),
          }),
        ),
      )
    await send(1, ['one'])
    // Store-published messages repeat the sender's last seq, or an older one when they race its
    // bus's messages over another connection: neither is a gap, and they do not move the count.
    await send(1, ['by-store'], true)
    await send(0, ['by-store-older'], true)
    await send(2, ['two'])
    await send(9, ['by-store-ahead'], true)
    await send(3, ['three'])
    await onB.until(() => onB.keys().includes('three'))
    expect(onB.keys()).toEqual(['one', 'by-store', 'by-store-older', 'two', 'by-store-ahead', 'three'])
    expect(gaps).toEqual([])
    expect(onB.count('invalidateAll')).toBe(0)
    await b.close()
  })

  it('builds announcements for a store on its own publisher, not numbered, not sent by the bus', async () => {
    const publisher = client()
    const b = new RedisPubSubIpc({ publisher, subscriber: client(), channel: 'announced', nodeId: 'me' })
    const event = { kind: 'delete', namespace: 'users', keys: ['u:1'] } as const
    const announcement = b.announcement(event)!
    expect(announcement.via).toBe(publisher)
    expect(announcement.channel).toBe('announced:users')
    expect(announcement.sharded).toBe(false)
    expect(decodeMessage(announcement.message)).toEqual({
      v: WIRE_VERSION,
      node: 'me',
      ns: 'users',
      seq: 0,
      ops: [{ kind: 'delete', keys: ['u:1'] }],
      store: true,
    })
    expect(b.announcement({ kind: 'set', namespace: 'users', keys: [] })).toBeUndefined()
    await b.close()
    expect(b.announcement(event)).toBeUndefined()
  })

  it('reports unreadable bytes and drops the L1 of the channel namespace', async () => {
    const b = node('garbage')
    const onB = recorder()
    const errors: IpcError[] = []
    b.on('error', (error) => errors.push(error))
    b.subscribe('users', onB)
    await live(b, 'users')
    await client().publish(b.channelOf('users'), Buffer.from([0xc1]))
    await client().publish(
      b.channelOf('users'),
      Buffer.from(encodeMessage({ v: WIRE_VERSION, node: 'x', ns: 'posts', seq: 1, ops: [] })),
    )
    await onB.until(() => onB.count('invalidateAll') === 2)
    expect(errors.map((error) => [error.operation, error.namespace])).toEqual([
      ['decode', 'users'],
      ['decode', 'users'],
    ])
    await b.close()
  })

  it('reports a failed publish as an event, and receivers see the lost message at the next one', async () => {
    const publisher = client({ enableOfflineQueue: false })
    const a = new RedisPubSubIpc({ publisher, subscriber: client(), channel: 'failing', coalesceMs: 0 })
    const b = node('failing')
    const onB = recorder()
    b.subscribe('users', onB)
    await live(b, 'users')
    const errors: IpcError[] = []
    a.on('error', (error) => errors.push(error))

    a.publish({ kind: 'set', namespace: 'users', keys: ['first'] })
    await onB.until(() => onB.keys().includes('first'))
    publisher.disconnect()
    expect(() => a.publish({ kind: 'set', namespace: 'users', keys: ['lost'] })).not.toThrow()
    await waitFor(() => errors.length === 1)
    expect(errors[0]!.operation).toBe('publish')

    await publisher.connect()
    a.publish({ kind: 'set', namespace: 'users', keys: ['third'] })
    await onB.until(() => onB.count('invalidateAll') === 1)
    expect(onB.keys()).toEqual(['first'])
    await Promise.all([a.close(), b.close()])
  })

  it('notices a subscription that went silent through its heartbeat, and recovers', async () => {
    const b = node('silent', { maxStalenessMs: 300, heartbeatMs: 100 })
    const onB = recorder()
    const reasons: string[] = []
    b.on('disconnected', (info) => reasons.push(info.reason))
    b.subscribe('users', onB)
    await live(b, 'users')
    const before = onB.calls.length
    // Writes (PUBLISH among them) wait for 1.5 s: heartbeats stop coming back.
    // Three heartbeat intervals (300 ms) should notice; the rest is slack for a busy machine.
    await client().client('PAUSE', 1500, 'WRITE')
    const started = Date.now()
    await onB.until((calls) => calls.slice(before).some((call) => call.method === 'disconnected'))
    expect(Date.now() - started).toBeLessThan(1500)
    expect(reasons[0]).toBe('heartbeat lost')
    expect(onB.calls[before]).toEqual({ method: 'disconnected', maxStalenessMs: 300 })
    await onB.until((calls) => calls.slice(before).some((call) => call.method === 'reconnected'), 5000)
    await waitFor(() => b.isLive('users'), 5000)
    await b.close()
  })

  // A receiver learns a sender's numbers from what it receives, so a number skipped before it
  // heard the sender, or by a new bus that starts again from 1 under the same nodeId, shows no gap.
  it('a node restarted under the same nodeId: a message it failed to publish still drops the others’ L1', async () => {
    const b = node('restarted')
    const onB = recorder()
    b.subscribe('users', onB)
    await live(b, 'users')
    const before = new RedisPubSubIpc({
      publisher: client(),
      subscriber: client(),
      channel: 'restarted',
      nodeId: 'web-1',
      coalesceMs: 0,
    })
    for (let i = 0; i < 5; i++) await before.publish({ kind: 'set', namespace: 'users', keys: [`k${i}`] })
    await onB.until(() => onB.keys().includes('k4'))
    await before.close()
    // The same node after a restart (a stable nodeId, for logs), its publisher briefly away.
    const publisher = client({ enableOfflineQueue: false })
    await waitFor(() => publisher.status === 'ready')
    const after = new RedisPubSubIpc({
      publisher,
      subscriber: client(),
      channel: 'restarted',
      nodeId: 'web-1',
      coalesceMs: 0,
    })
    const errors: IpcError[] = []
    after.on('error', (error) => errors.push(error))
    publisher.disconnect()
    await after.publish({ kind: 'set', namespace: 'users', keys: ['lost'] })
    expect(errors.map((error) => error.operation)).toEqual(['publish'])
    await waitFor(() => publisher.status === 'end')
    await publisher.connect()
    await after.publish({ kind: 'set', namespace: 'users', keys: ['next'] })
    await onB.until(() => onB.keys().includes('next') || onB.count('invalidateAll') > 0)
    // 'lost' never reached b: b must have dropped its L1 for the namespace.
    expect(onB.count('invalidateAll')).toBe(1)
    await Promise.all([after.close(), b.close()])
  })

  it('a node whose very first publish failed: the others drop their L1 at its next message', async () => {
    const b = node('first-lost')
    const onB = recorder()
    b.subscribe('users', onB)
    await live(b, 'users')
    const publisher = client({ enableOfflineQueue: false })
    await waitFor(() => publisher.status === 'ready')
    publisher.disconnect() // away as the node starts
    await waitFor(() => publisher.status === 'end')
    const a = new RedisPubSubIpc({ publisher, subscriber: client(), channel: 'first-lost', coalesceMs: 0 })
    a.on('error', () => undefined)
    a.subscribe('users', recorder())
    await a.publish({ kind: 'set', namespace: 'users', keys: ['lost'] })
    await publisher.connect()
    await a.publish({ kind: 'set', namespace: 'users', keys: ['next'] })
    await onB.until(() => onB.keys().includes('next') || onB.count('invalidateAll') > 0)
    expect(onB.count('invalidateAll')).toBe(1)
    await Promise.all([a.close(), b.close()])
  })

  it('works with a lazy subscriber connection', async () => {
    const a = node('lazy')
    const b = new RedisPubSubIpc({ publisher: client(), subscriber: client({ lazyConnect: true }), channel: 'lazy' })
    const onB = recorder()
    b.subscribe('users', onB)
    await live(b, 'users')
    a.publish({ kind: 'set', namespace: 'users', keys: ['k'] })
    await onB.until(() => onB.keys().includes('k'))
    await Promise.all([a.close(), b.close()])
  })

  it('leaves its channels when closed, or its last cache leaves, while its subscriber reconnects', async () => {
    // Reconnects 300 ms after a loss: time to close the bus meanwhile.
    const subscriber = client({ connectionName: 'ipc-leave-offline', retryStrategy: () => 300 })
    const b = new RedisPubSubIpc({ publisher: client(), subscriber, channel: 'leave-offline' })
    const admin = client()
    const unsubscribe = b.subscribe('users', recorder())
    b.subscribe('posts', recorder())
    await live(b, 'users')
    await live(b, 'posts')
    await admin.client('KILL', 'USER', 'default', 'TYPE', 'pubsub', 'SKIPME', 'yes')
    await waitFor(() => subscriber.status !== 'ready')
    unsubscribe()
    await b.close()
    await waitFor(() => subscriber.status === 'ready')
    // ioredis resubscribes the connection by itself (autoResubscribe): the bus must still leave.
    await waitFor(async () => (await numsub(admin, b.channelOf('users'))) === 0, 1000)
    await waitFor(async () => (await numsub(admin, b.channelOf('posts'))) === 0, 1000)
  })

  it('leaves its channels on close and when the last cache unsubscribes', async () => {
    const b = node('leave')
    const admin = client()
    const unsubscribe = b.subscribe('users', recorder())
    b.subscribe('posts', recorder())
    await live(b, 'users')
    await live(b, 'posts')
    expect(await numsub(admin, b.channelOf('users'))).toBe(1)
    unsubscribe()
    await waitFor(async () => (await numsub(admin, b.channelOf('users'))) === 0)
    expect(await numsub(admin, b.channelOf('posts'))).toBe(1)
    await b.close()
    expect(await numsub(admin, b.channelOf('posts'))).toBe(0)
    expect(() => b.subscribe('users', recorder())).toThrow(/closed/)
  })

  it('rejects bad options with a TypeError naming them', () => {
    const redis = client()
    const other = client()
    const ok = { publisher: redis, subscriber: other, channel: 'c' }
    expect(() => new RedisPubSubIpc({ ...ok, publisher: {} as never })).toThrow(/options.publisher/)
    expect(() => new RedisPubSubIpc({ ...ok, subscriber: redis })).toThrow(/options.subscriber/)
    expect(() => new RedisPubSubIpc({ ...ok, channel: '' })).toThrow(/options.channel/)
    expect(() => new RedisPubSubIpc({ ...ok, maxStalenessMs: -1 })).toThrow(/options.maxStalenessMs/)
    expect(() => new RedisPubSubIpc({ ...ok, heartbeatMs: Number.NaN })).toThrow(/options.heartbeatMs/)
    expect(() => new RedisPubSubIpc({ ...ok, coalesceMs: -1 })).toThrow(/options.coalesceMs/)
    expect(() => new RedisPubSubIpc({ ...ok, maxStalenessMs: '3 s' as never })).toThrow(
      /options\.maxStalenessMs must be a duration/,
    )
    expect(() => new RedisPubSubIpc({ ...ok, heartbeatMs: Infinity })).toThrow(
      /options\.heartbeatMs must be a duration/,
    )
    expect(() => new RedisPubSubIpc({ ...ok, maxBatchKeys: 0 })).toThrow(/options.maxBatchKeys/)
    expect(() => new RedisPubSubIpc({ ...ok, nodeId: '' })).toThrow(/options.nodeId/)
    expect(() => new RedisPubSubIpc({ ...ok, maxStaleness: 500 } as never)).toThrow(
      /options\.maxStaleness is not an option; valid options: .*maxStalenessMs/,
    )
  })
})

async function numsub(redis: Redis, channel: string): Promise<number> {
  const reply = (await redis.pubsub('NUMSUB', channel)) as [string, number]
  return Number(reply[1])
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
