/**
 * tiercache in one minute, on the embedded in-memory store (no Redis needed).
 *
 *   pnpm demo
 *
 * Two caches ("node A" and "node B") share one MemoryStore the way two
 * processes share Redis. A slow fake database sits behind them.
 */
import { LoaderError, MemoryStore, TierCache } from '@tiercache/core'

interface User {
  id: number
  name: string
  version: number
}

// A slow database that counts its queries and can be switched off.
const db = {
  queries: 0,
  down: false,
  version: 1,
  async user(id: number): Promise<User> {
    this.queries++
    await sleep(120)
    if (this.down) throw new Error('connection refused')
    return { id, name: `user-${id}`, version: this.version }
  },
}

const store = new MemoryStore()
const options = { name: 'users', ttl: 1_000, staleTtl: 5_000, resurrectTtl: 2_000, store }
const nodeA = new TierCache<User>(options)
const nodeB = new TierCache<User>(options)
const loader = (key: string) => db.user(Number(key.split(':')[1]))
const levels = ['', 'L1', 'shared store', 'loader', 'stale']

for (const [name, cache] of [
  ['A', nodeA],
  ['B', nodeB],
] as const) {
  cache.on('refresh', (key) => log(`  node ${name}: background refresh of ${key} started`))
  cache.on('error', (error) => log(`  node ${name}: error event: ${error.name}: ${error.message}`))
}

async function burst(label: string, cache: TierCache<User>, n: number): Promise<void> {
  const queriesBefore = db.queries
  const started = performance.now()
  const results = await Promise.all(Array.from({ length: n }, () => cache.getWithInfo('user:1', loader)))
  const ms = performance.now() - started
  await sleep(200) // let a background refresh reach the database before counting queries
  const byLevel = new Map<string, number>()
  for (const r of results) byLevel.set(levels[r.hitLevel]!, (byLevel.get(levels[r.hitLevel]!) ?? 0) + 1)
  const served = [...byLevel].map(([level, count]) => `${count} from ${level}`).join(', ')
  const versions = [...new Set(results.map((r) => r.value?.version))].join(',')
  log(
    `${label}: ${n} requests in ${ms.toFixed(1)} ms → ${served}; value version ${versions}; db queries +${db.queries - queriesBefore}`,
  )
}

async function main(): Promise<void> {
  log('1. Cold start: a burst of 500 concurrent requests on node A for a missing key')
  await burst('   node A', nodeA, 500)
  log('   → single flight: one database query answered all 500.\n')

  log('2. Same key, hot: L1 answers without touching the store or the database')
  await burst('   node A', nodeA, 500)
  log('')

  log('3. Node B has never seen the key: it finds it in the shared store')
  await burst('   node B', nodeB, 500)
  log('')

  log('4. The TTL (1 s) passes; the database now has version 2. The key is stale, inside its 5 s stale window')
  await sleep(1_050)
  db.version = 2
  await burst('   node A', nodeA, 200)
  log('   → every request, the first one included, got the stale value at once; ONE refresh went to the database')
  await burst('   node A', nodeA, 200)
  log('   → node A now serves version 2 from L1')
  await burst('   node B', nodeB, 200)
  log("   → node B's L1 still held version 1: it served it stale, and its refresh found node A's")
  log('     version 2 in the shared store (it took the lock, re-read the store) without a query')
  log('')

  log('5. The database goes down and the key expires again (version 2 is now stale)')
  db.down = true
  await sleep(1_050)
  await burst('   node A', nodeA, 200)
  log('   → callers got the stale value at once; the refresh failed (an error event, no caller saw it)')
  log('     and resurrectTtl re-armed version 2 as fresh for 2 s:')
  await burst('   node A', nodeA, 200)
  log('   → served as resurrected (hitLevel 4) with no database query meanwhile')
  log('')

  log('6. A key the database has never had, with the database down: the caller gets a LoaderError')
  try {
    await nodeA.get('user:2', loader)
  } catch (error) {
    log(`   ${error instanceof LoaderError ? 'LoaderError' : 'error'}: ${(error as Error).message}`)
  }
  log('')

  for (const [name, cache] of [
    ['A', nodeA],
    ['B', nodeB],
  ] as const) {
    log(`node ${name} stats: ${JSON.stringify(cache.stats())}`)
  }
  log(`database queries in all: ${db.queries}`)
}

function log(line: string): void {
  console.log(line)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

await main()
