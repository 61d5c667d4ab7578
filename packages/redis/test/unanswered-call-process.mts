// Run by in-flight-call-keeps-process-alive.test.ts: a store whose client's socket is unref'd
// reads from a Redis that stopped answering (SIGSTOP). The read must settle (time out), not be
// dropped by a process that found nothing keeping it alive.
import { Redis } from 'ioredis'
import { RedisStore } from '../src/index.js'

const client = new Redis({ port: Number(process.env.PORT) })
const store = new RedisStore({ client, prefix: 'never:', commandTimeoutMs: 200 })
store.on('error', () => {})
await store.set('n', 'k', { data: new Uint8Array(3), freshMs: 60_000, keepMs: 60_000 })
process.kill(Number(process.env.REDIS_PID), 'SIGSTOP')
;(client.stream as unknown as { unref(): void }).unref()
try {
  await store.read('n', 'k')
  console.log('answered')
} catch (error) {
  console.log(`settled: ${(error as { kind?: string }).kind}`)
}
client.disconnect()
