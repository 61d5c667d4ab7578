/** Child process of the memory scenario: fills one library and weighs the heap (see memory.ts). */
import type { AdapterOptions } from '../contenders/adapter.js'
import { factoryOf, type Library } from '../contenders/registry.js'
import { makeValue } from '../data/value.js'
import { serveChild } from '../harness/child.js'

/** What the parent asks: `library` undefined weighs the values alone, in an array. */
export interface MemoryJob {
  readonly library?: Library
  readonly entries: number
  readonly maxBytes?: number
  /** tiercache only: its default MemoryStore bounded to this many entries (to weigh L1 nearly alone). */
  readonly storeEntries?: number
}

/** Growth of heap + array buffers after full GCs, and what the library says it holds. */
export interface MemoryAnswer {
  readonly heapBytes: number
  readonly rssBytes: number
  readonly l1Entries?: number
  readonly error?: string
}

const settle = (): number => {
  const gc = (globalThis as { gc?: () => void }).gc!
  gc()
  gc()
  // Buffers (MemoryStore records, serialised entries) live outside the JS heap.
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  return heapUsed + arrayBuffers
}

serveChild<MemoryJob, MemoryAnswer>(async (job) => {
  const index = (key: string) => Number(key.slice(4))
  if (job.library === undefined) {
    const before = settle()
    const rss = process.memoryUsage().rss
    const kept = Array.from({ length: job.entries }, (_, i) => makeValue(i))
    const heapBytes = settle() - before
    return { heapBytes, rssBytes: process.memoryUsage().rss - rss, l1Entries: kept.length }
  }
  const factory = await factoryOf(job.library)
  if (typeof factory === 'string') return { heapBytes: 0, rssBytes: 0, error: factory }
  // Weighed from before the cache is built, so what a library allocates up front (lru-cache
  // preallocates its arrays for `max`) counts like what it allocates per entry; and built for
  // exactly the entries it will hold, so no library's up-front share is twice its need.
  const before = settle()
  const rss = process.memoryUsage().rss
  const options: AdapterOptions = {
    tiers: 'memory',
    namespace: 'mem',
    lruSize: job.entries,
    ttlMs: 3_600_000,
    ...(job.maxBytes !== undefined ? { maxBytes: job.maxBytes } : {}),
    ...(job.storeEntries !== undefined ? { storeEntries: job.storeEntries } : {}),
    loader: async (key) => makeValue(index(key)),
  }
  let adapter: Awaited<ReturnType<typeof factory>>
  try {
    adapter = await factory(options)
  } catch (error) {
    return { heapBytes: 0, rssBytes: 0, error: error instanceof Error ? error.message : String(error) }
  }
  for (let i = 0; i < job.entries; i++) await adapter.get(`mem:${i}`)
  const heapBytes = settle() - before
  const answer: MemoryAnswer = {
    heapBytes,
    rssBytes: process.memoryUsage().rss - rss,
    ...(adapter.l1Entries ? { l1Entries: adapter.l1Entries() } : {}),
  }
  await adapter.close()
  return answer
})
