/**
 * A write burst: 2,500 concurrent `set`s of 4 KiB on one RedisStore with the
 * default 200 ms command time-out. Reports, per round, how many sets rejected,
 * how many of those landed anyway (read back 500 ms later), and whether the
 * circuit breaker opened. Run against a Redis nobody else loads:
 *
 *   node --import tsx benchmarks/src/redis/burst.ts [redis-url] [path to the package's index]
 */
import { randomUUID } from 'node:crypto'

const url = process.argv[2] ?? 'redis://127.0.0.1:6379'
const entry = process.argv[3] ?? '../../../packages/redis/src/index.js'
const { RedisStore } = (await import(entry)) as typeof import('../../../packages/redis/src/index.js')

const BURST = Number(process.env.BURST ?? 2_500)
const ROUNDS = 5
const store = new RedisStore({ url, prefix: 'tc-bench-burst:' })
const circuit: string[] = []
store.on('circuit', (state) => circuit.push(state))
store.on('error', () => {})
await store.get('warm', 'up')
const value = new Uint8Array(4096).fill(7)
for (let round = 0; round < ROUNDS; round++) {
  circuit.length = 0
  const n = `burst-${randomUUID()}`
  const started = performance.now()
  const results = await Promise.allSettled(
    Array.from({ length: BURST }, (_, i) => store.set(n, `k${i}`, { data: value, freshMs: 60_000, keepMs: 60_000 })),
  )
  const ms = performance.now() - started
  const rejected = results.flatMap((result, i) => (result.status === 'rejected' ? [i] : []))
  await new Promise((resolve) => setTimeout(resolve, 500))
  while (store.circuit !== 'closed')
    await new Promise((resolve) => setTimeout(resolve, 100)).then(() => store.get('warm', 'up').catch(() => {}))
  const landed =
    rejected.length === 0
      ? []
      : await store.getMany(
          n,
          rejected.map((i) => `k${i}`),
        )
  console.log(
    `round ${round + 1}: ${BURST} sets in ${ms.toFixed(0)} ms, rejected ${rejected.length}, of which landed anyway ${landed.filter((record) => record !== undefined).length}, circuit events [${circuit.join(', ')}]`,
  )
}
await store.close()
