import { randomUUID } from 'node:crypto'
import { StoreError } from '@tiercache/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { type CircuitState, RedisStore } from '../src/index.js'

const bytes = (...values: number[]) => Uint8Array.from(values)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now()
  while (performance.now() - started < timeoutMs) {
    if (await check().catch(() => false)) return performance.now() - started
    await sleep(20)
  }
  throw new Error(`condition not met within ${timeoutMs} ms`)
}

async function elapsed(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now()
  try {
    await call()
    return { ms: performance.now() - started, error: undefined }
  } catch (error) {
    return { ms: performance.now() - started, error }
  }
}

// A server of our own on 7011 that the tests kill, freeze and restart.
describe('RedisStore while Redis fails (own server on 127.0.0.1:7011)', () => {
  let server: RedisServer
  let store: RedisStore
  const circuit: CircuitState[] = []
  const n = `resilience-${randomUUID()}`

  beforeAll(async () => {
    server = await startRedisServer(7011)
    // Default ioredis options: offline queue on, 20 retries per request. The store must not wait on them.
    const client = new Redis(server.port, '127.0.0.1')
    client.on('error', () => {}) // the application's business; here, expected
    store = new RedisStore({ client, breakerOpenMs: 300 })
    store.on('circuit', (state) => circuit.push(state))
  })
  afterAll(async () => {
    await store.close()
    store.client.disconnect()
    await server.stop()
  })

  it('fails fast with StoreError while Redis is down, and recovers by itself when it returns', async () => {
    await store.set(n, 'k', { data: bytes(1), freshMs: 60_000, keepMs: 60_000 })
    await server.kill('SIGKILL')
    await until(async () => store.client.status !== 'ready', 2_000)

    const results = await Promise.all(Array.from({ length: 100 }, () => elapsed(() => store.get(n, 'k'))))
    for (const { ms, error } of results) {
      expect(error).toBeInstanceOf(StoreError)
      expect((error as StoreError).kind).toBe('connection')
      expect(ms).toBeLessThan(50)
    }
    const lock = await elapsed(() => store.lock.acquire(n, 'k', 1_000))
    expect(lock.error).toBeInstanceOf(StoreError)
    const wait = await elapsed(() => store.lock.waitForRelease(n, 'k', 5_000))
    expect(wait.error).toBeInstanceOf(StoreError)
    expect(wait.ms).toBeLessThan(1_000)

    // The data is gone with the process (no persistence); the store must work again, unaided.
    await server.restart()
    const recovered = await until(async () => {
      await store.set(n, 'k', { data: bytes(2), freshMs: 60_000, keepMs: 60_000 })
      return true
    }, 10_000)
    expect(recovered).toBeLessThan(10_000)
    expect(Array.from((await store.get(n, 'k'))!.data!)).toEqual([2])
  })

  it('times out a frozen Redis after commandTimeoutMs, opens the circuit, then closes it after a probe', async () => {
    circuit.length = 0
    await store.set(n, 'frozen', { data: bytes(3), freshMs: 60_000, keepMs: 60_000 })
    process.kill(server.pid, 'SIGSTOP')
    try {
      // The first calls wait their 200 ms (the connection looks fine), then the breaker opens.
      for (let i = 0; i < 3; i++) {
        const { ms, error } = await elapsed(() => store.get(n, 'frozen'))
        expect(error).toBeInstanceOf(StoreError)
        expect((error as StoreError).cause).toMatchObject({ code: 'TIERCACHE_REDIS_TIMEOUT' })
        expect(ms).toBeGreaterThanOrEqual(190)
        expect(ms).toBeLessThan(600)
      }
      expect(store.circuit).toBe('open')
      const refused = await elapsed(() => store.get(n, 'frozen'))
      expect((refused.error as StoreError).cause).toMatchObject({ code: 'TIERCACHE_REDIS_CIRCUIT_OPEN' })
      expect(refused.ms).toBeLessThan(20)
    } finally {
      process.kill(server.pid, 'SIGCONT')
    }
    await sleep(350)
    expect(Array.from((await store.get(n, 'frozen'))!.data!)).toEqual([3])
    expect(store.circuit).toBe('closed')
    expect(circuit).toEqual(['open', 'half-open', 'closed'])
  })

  // Regression: with no calls the breaker never moved, so `circuit` said `open` long after Redis came back.
  it('closes the circuit without traffic once Redis answers again (a health check tells the truth)', async () => {
    circuit.length = 0
    process.kill(server.pid, 'SIGSTOP')
    try {
      const kinds = []
      for (let i = 0; i < 3; i++) kinds.push(((await elapsed(() => store.get(n, 'frozen'))).error as StoreError).kind)
      expect(kinds).toEqual(['timeout', 'timeout', 'timeout'])
      expect(store.circuit).toBe('open')
      const refused = await store.health()
      expect(refused).toEqual({
        ok: false,
        circuit: 'open',
        error: 'Redis circuit breaker is open after repeated failures',
      })
      // Still frozen when the first probe goes (300 ms after opening): it fails and the circuit re-opens.
      await sleep(700)
      expect(store.circuit).toBe('open')
    } finally {
      process.kill(server.pid, 'SIGCONT')
    }
    // No call from here on: the probe alone must close it within one more breakerOpenMs (+ a PING).
    await until(async () => store.circuit === 'closed', 1_000)
    expect(circuit[0]).toBe('open')
    expect(circuit.slice(-2)).toEqual(['half-open', 'closed'])
    expect(await store.health()).toEqual({ ok: true, circuit: 'closed' })
  })
})
