/** Child process of the memory scenario: fills one library and weighs the heap (see memory.ts). */
import type { AdapterOptions } from '../contenders/adapter.js'
import { factoryOf, type Library } from '../contenders/registry.js'
import { makeValue, type Record1k } from '../data/value.js'
import { serveChild } from '../harness/child.js'

/** What the parent asks: `library` undefined weighs the keys and values alone. */
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

/** What the baseline weighs, reachable from here until weighed (a local past its last use may be collected). */
const reachable: unknown[] = []

const keyOf = (i: number): string => `mem:${i}`

/**
 * Record `i` as a parser (JSON.parse, a database driver) hands it over: every string flat.
 * `makeValue` builds its longer strings with template literals, which V8 keeps as rope
 * strings until something reads them whole; a codec's encode (or a well-formedness check)
 * then flattens them in place, and the flat copy (about 70 B per record) was charged to
 * whichever library read the strings, as if it were the library's own.
 */
const parsedValue = (i: number): Record1k => JSON.parse(JSON.stringify(makeValue(i)))

/** Heap an array of `length` pointers holds (what the baseline's two arrays add beyond their contents). */
function arrayBytes(length: number): number {
  const before = settle()
  const array = new Array<number>(length).fill(0)
  reachable.push(array)
  const bytes = settle() - before
  reachable.length = 0
  return bytes
}

serveChild<MemoryJob, MemoryAnswer>(async (job) => {
  const index = (key: string) => Number(key.slice(4))
  if (job.library === undefined) {
    // The keys and values every library must hold, in two arrays whose own bytes (one pointer per
    // entry each, which no library needs) are weighed apart and taken out.
    const containers = 2 * arrayBytes(job.entries)
    const before = settle()
    const rss = process.memoryUsage().rss
    const keys = new Array<string>(job.entries)
    const values = new Array<Record1k>(job.entries)
    for (let i = 0; i < job.entries; i++) {
      keys[i] = keyOf(i)
      values[i] = parsedValue(i)
    }
    reachable.push(keys, values)
    const held = settle() - before
    return { heapBytes: held - containers, rssBytes: process.memoryUsage().rss - rss, l1Entries: keys.length }
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
    loader: async (key) => parsedValue(index(key)),
  }
  let adapter: Awaited<ReturnType<typeof factory>>
  try {
    adapter = await factory(options)
  } catch (error) {
    return { heapBytes: 0, rssBytes: 0, error: error instanceof Error ? error.message : String(error) }
  }
  for (let i = 0; i < job.entries; i++) await adapter.get(keyOf(i))
  const heapBytes = settle() - before
  const answer: MemoryAnswer = {
    heapBytes,
    rssBytes: process.memoryUsage().rss - rss,
    ...(adapter.l1Entries ? { l1Entries: adapter.l1Entries() } : {}),
  }
  await adapter.close()
  return answer
})
