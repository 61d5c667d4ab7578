import { randomUUID } from 'node:crypto'
import { type Clock, TierCache } from '@tiercache/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisStore } from '../src/index.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Issue 15: after expiry, the refresh wrote its lock to Redis before the
 * first caller had its stale value. The client's commands are recorded as
 * they are sent (a hook on the real client, in front of the real Redis), next
 * to the moment the caller is answered.
 */
describe('the first caller after expiry is answered before the refresh sends its lock (127.0.0.1:6379)', () => {
  const log: string[] = []
  let client: Redis
  let store: RedisStore

  beforeAll(() => {
    client = new Redis({ host: '127.0.0.1', port: 6379 })
    const send = client.sendCommand.bind(client)
    client.sendCommand = ((command: { name: string; args: unknown[] }, ...rest: unknown[]) => {
      const lock = command.args.some((arg) => String(arg).endsWith(':lock'))
      log.push(lock ? 'lock' : command.name)
      return (send as (...args: unknown[]) => unknown)(command, ...rest)
    }) as typeof client.sendCommand
    store = new RedisStore({ client, prefix: `tctest:stalefirst:${randomUUID()}:` })
  })
  afterAll(async () => {
    await store.close()
    client.disconnect()
  })

  /** The stale `v1` reaches the caller before the refresh's lock command is written to Redis. */
  async function expectAnsweredBeforeLock(cache: TierCache<string>, loader: () => Promise<string>) {
    log.length = 0
    const got = cache.getWithInfo('k', loader).then((info) => {
      log.push('answered')
      return info
    })
    expect(await got).toMatchObject({ value: 'v1', stale: true, reason: 'refreshing' })
    await cache.idle()
    expect(log).toContain('lock')
    expect(log.indexOf('answered')).toBeLessThan(log.indexOf('lock'))
    cache.close()
  }

  it('from a stale L1 entry: answered, then the lock', async () => {
    let now = 1_000_000
    const clock: Clock = { now: () => now }
    const cache = new TierCache<string>({ name: 'l1', store, ttl: 1_000, staleTtl: 60_000, clock })
    let version = 0
    const loader = async () => `v${++version}`
    expect(await cache.get('k', loader)).toBe('v1')
    await cache.idle()
    now += 1_500
    await expectAnsweredBeforeLock(cache, loader)
  })

  it('from a stale record in Redis (L1 off): answered, then the lock', async () => {
    const cache = new TierCache<string>({ name: 'l2', store, lruSize: 0, ttl: 50, staleTtl: 60_000 })
    let version = 0
    const loader = async () => `v${++version}`
    expect(await cache.get('k', loader)).toBe('v1')
    await cache.idle()
    await sleep(120)
    await expectAnsweredBeforeLock(cache, loader)
  })
})
