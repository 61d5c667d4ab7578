import { EventEmitter } from 'node:events'
import { recorder } from '@tiercache/ipc/testing'
import { describe, expect, it } from 'vitest'
import { RedisPubSubIpc } from '../src/redis-pubsub.js'

// The watch of a Cluster's plain pub/sub connection (ioredis's private `Cluster.subscriber`), on fakes.

function fakeCluster(connection: EventEmitter | undefined) {
  const acks: (() => void)[] = []
  const cluster = Object.assign(new EventEmitter(), {
    isCluster: true,
    status: 'ready',
    options: {},
    publish: () => Promise.resolve(1),
    subscribe: () => new Promise<void>((resolve) => acks.push(resolve)),
    unsubscribe: () => Promise.resolve(),
    ...(connection === undefined ? {} : { subscriber: { getInstance: () => connection } }),
  })
  return { cluster, acks }
}

describe('the Cluster subscriber watch', () => {
  it('attaches nothing to the Cluster connection when a subscribe is acknowledged after close', async () => {
    const connection = new EventEmitter()
    const { cluster, acks } = fakeCluster(connection)
    const publisher = fakeCluster(undefined).cluster
    const bus = new RedisPubSubIpc({
      publisher: publisher as never,
      subscriber: cluster as never,
      channel: 'w',
      heartbeatMs: 0,
    })
    const handler = recorder()
    const unsubscribe = bus.subscribe('users', handler)
    await bus.close()
    for (const ack of acks) ack()
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(connection.listenerCount('close')).toBe(0)
    unsubscribe()
  })

  it('does nothing, and never throws, when the private API is absent', async () => {
    const { cluster, acks } = fakeCluster(undefined)
    const publisher = fakeCluster(undefined).cluster
    const bus = new RedisPubSubIpc({
      publisher: publisher as never,
      subscriber: cluster as never,
      channel: 'w',
      heartbeatMs: 0,
      maxStalenessMs: 300,
    })
    const errors: unknown[] = []
    bus.on('error', (error) => errors.push(error))
    const handler = recorder()
    bus.subscribe('users', handler)
    await new Promise((resolve) => setTimeout(resolve, 0))
    for (const ack of acks.splice(0)) ack()
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(bus.isLive('users')).toBe(true)
    expect(errors).toEqual([])
    await bus.close()
  })
})
