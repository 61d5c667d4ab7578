import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

const write = (text: string) => ({ data: Buffer.from(text), freshMs: 60_000, keepMs: 60_000 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// Each store listens to its client ('ready': its own and its circuit probe's) and to the
// connection's socket ('data', 'close'), and the client's socket watch (dropOnClose) adds one
// more of each for good. Node's default limit is 10 listeners per event: with the watch, the
// fifth store on one client printed "MaxListenersExceededWarning: Possible EventEmitter memory
// leak detected. 11 ready listeners added to [Commander]" (the tenth, the same for the socket's
// 'close' and 'data'), a leak warning for listeners that all go at each store's close().
describe('many stores on one client (own server on 127.0.0.1:7179)', () => {
  let server: RedisServer
  const warnings: string[] = []
  const onWarning = (warning: Error) => {
    if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning.message)
  }

  beforeAll(async () => {
    server = await startRedisServer(7179)
    process.on('warning', onWarning)
  })
  afterAll(async () => {
    process.off('warning', onWarning)
    await server?.stop()
  })

  it('set off no MaxListenersExceededWarning, and give back the listener limits they raised at close', async () => {
    const client = new Redis({ port: server.port, host: '127.0.0.1', retryStrategy: () => 5 })
    client.on('error', () => {})
    await client.ping()
    const baseline = client.getMaxListeners()
    const stores = Array.from({ length: 12 }, (_, i) => new RedisStore({ client, prefix: `ml${i}` }))
    for (const store of stores) store.on('error', () => {})
    await Promise.all(stores.map((store) => store.set('ns', 'k', write('v'))))
    for (let i = 0; i < 3; i++) {
      client.stream.destroy()
      await new Promise((resolve) => client.once('ready', resolve))
      await Promise.all(stores.map((store) => store.set('ns', 'k', write(`v${i}`))))
    }
    await sleep(20)
    expect(warnings).toEqual([])
    for (const store of stores) await store.close()
    // What the stores raised, they lowered again: only the client's own socket watch remains.
    expect(client.getMaxListeners()).toBeLessThanOrEqual(baseline + 1)
    expect(client.stream.getMaxListeners()).toBeLessThanOrEqual(baseline + 1)
    client.disconnect()
  })
})
