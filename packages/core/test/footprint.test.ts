import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

describe('what a cache costs before it holds anything', () => {
  // Found measuring issue 15's memory figures: a `new TierCache()` held 2.9 MB before its first
  // entry. Its default MemoryStore was an lru-cache that allocated its slots for 100,000 records up
  // front, and the tag states' lru-cache its slots for 10,000 (230 KB) even in a cache that never
  // uses a tag. An app with a cache per entity type paid that per cache.
  it('a default TierCache costs under 64 KB until it is used (50 caches, weighed in a fresh process)', () => {
    // The built package (`pnpm test` builds first), in a child with --expose-gc, as the L1 weighing test.
    const dist = new URL('../dist/index.js', import.meta.url).href
    const weigh = `
      const { TierCache } = await import(${JSON.stringify(dist)})
      const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers }
      new TierCache({ name: 'warm' }).close() // code and module state, paid once
      const caches = []
      const before = heap()
      for (let i = 0; i < 50; i++) caches.push(new TierCache({ name: 'c' + i }))
      const after = heap()
      console.log(JSON.stringify({ perCache: (after - before) / 50 }))
      for (const cache of caches) cache.close()`
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', weigh], {
      encoding: 'utf8',
    })
    const { perCache } = JSON.parse(out) as { perCache: number }
    expect(perCache).toBeLessThan(64 * 1024)
  })
})
