import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { RedisStore } from '../src/index.js'

// maxValueBytes is any finite number > 0. The one-key read hands it to GETRANGE, which takes
// an integer only: a fractional limit (or one Lua prints in exponent form, 1e17 and up) made
// GETRANGE fail, and every one-key read of a record came back malformed while the many-key
// read of the same key found it.
describe('one key read with a maxValueBytes GETRANGE cannot take as is (127.0.0.1:6379)', () => {
  const stores: RedisStore[] = []
  afterAll(async () => {
    for (const store of stores) {
      await store.close()
      store.client.disconnect()
    }
  })

  for (const maxValueBytes of [100.5, 1e17]) {
    it(`maxValueBytes ${maxValueBytes}: a record reads one at a time as many at a time`, async () => {
      const store = new RedisStore({
        client: new Redis({ host: '127.0.0.1', port: 6379 }),
        prefix: `tctest:readonemax:${randomUUID()}:`,
        maxValueBytes,
      })
      stores.push(store)
      const errors: Error[] = []
      store.on('error', (error) => errors.push(error))
      const n = `ns-${randomUUID()}`
      await store.set(n, 'k', { data: new Uint8Array(10).fill(7), freshMs: 60_000, keepMs: 60_000 })
      const [many] = await store.readMany(n, ['k'])
      const one = await store.read(n, 'k')
      expect(errors).toEqual([])
      expect(Array.from(one.record!.data as Uint8Array)).toEqual(Array.from(many!.record!.data as Uint8Array))
      await store.delete(n, 'k')
    })
  }
})
