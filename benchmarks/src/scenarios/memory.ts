import { runChild } from '../harness/child.js'
import { bytes } from '../harness/format.js'
import type { Scenario, ScenarioContext, ScenarioResult } from '../harness/scenario.js'
import type { MemoryAnswer, MemoryJob } from './memory-worker.js'

const BOUND = 16 * 2 ** 20

interface Case {
  readonly label: string
  readonly job: Omit<MemoryJob, 'entries'>
}

const UNBOUNDED: readonly Case[] = [
  { label: 'the keys and values alone', job: {} },
  { label: 'tiercache (L1 + default MemoryStore)', job: { library: 'tiercache' } },
  { label: 'tiercache (L1 + MemoryStore({ maxEntries: 1000 }))', job: { library: 'tiercache', storeEntries: 1000 } },
  { label: 'bentocache', job: { library: 'bentocache' } },
  { label: 'cache-manager', job: { library: 'cache-manager' } },
  { label: 'cacheable', job: { library: 'cacheable' } },
  { label: 'async-cache-dedupe', job: { library: 'async-cache-dedupe' } },
  { label: 'lru-cache fetch', job: { library: 'lru-cache fetch' } },
]

const BOUNDED: readonly Case[] = [
  {
    label: 'tiercache lruMaxBytes (+ MemoryStore({ maxEntries: 1000 }))',
    job: { library: 'tiercache', storeEntries: 1000, maxBytes: BOUND },
  },
  { label: 'lru-cache maxSize', job: { library: 'lru-cache fetch', maxBytes: BOUND } },
  { label: 'bentocache maxSize (serialize: true)', job: { library: 'bentocache', maxBytes: BOUND } },
]

/**
 * Scenario 6: heap held per cached 1 KB entry, each library in a fresh
 * process (so no library pays for another's garbage), measured as the growth
 * of `heapUsed` after two full GCs from before the cache is built; then whether a byte bound of 16 MiB holds
 * when 100k entries (about 100 MB of JSON) are pushed through it.
 */
export const memory: Scenario = {
  id: 'memory',
  title: 'Memory per cached entry and the byte bound',
  async run(ctx): Promise<ScenarioResult> {
    const entries = ctx.budget.memoryEntries
    const findings: string[] = []
    const unbounded = await measureUnbounded(ctx, findings)
    const bounded = await measureBounded(ctx, findings)
    return {
      id: this.id,
      title: this.title,
      method:
        `${entries.toLocaleString('en')} distinct 1 KB objects loaded through each library's get-or-load call, in a ` +
        'fresh process per row, the cache built for exactly that many entries after the baseline was taken (what it ' +
        'allocates up front counts); the figure is the growth of `heapUsed` + `arrayBuffers` (Buffers live outside the JS heap) after two forced full GCs (RSS growth ' +
        'beside it). "Beyond keys and values" subtracts the heap of the same key strings and value objects held ' +
        "in two arrays, less the arrays' own pointers (weighed apart); the values are built as a parser hands them " +
        "(flat strings), so no library is charged for flattening the test data's rope strings when it reads them. " +
        `Each row is also weighed at ${(entries / 2).toLocaleString('en')} entries: the growth from there to ` +
        `${entries.toLocaleString('en')}, beyond the keys and values added, is what one more entry costs, without ` +
        "what does not grow with the entries (code, a bounded store's records, buffers). " +
        `The bounded ` +
        `rows cap the in-process tier at ${bytes(BOUND)} with each library's byte bound; sizes are measured as ` +
        'JSON length where the library asks for a size function.',
      tables: [
        {
          title: `Heap for ${entries.toLocaleString('en')} cached 1 KB entries`,
          columns: [
            'configuration',
            'heap + buffers growth',
            'per entry',
            'per entry beyond key and value',
            `same, per entry from ${(entries / 2).toLocaleString('en')} to ${entries.toLocaleString('en')}`,
            'RSS growth',
          ],
          rows: unbounded.rows,
        },
        {
          title: `Byte bound ${bytes(BOUND)}, ${entries.toLocaleString('en')} entries pushed through`,
          columns: ['configuration', 'heap + buffers growth', '× bound', 'entries kept'],
          rows: bounded,
        },
      ],
      charts: [
        {
          file: 'memory.svg',
          title: 'Bytes held per cached 1 KB entry, beyond its key and value',
          unit: 'bytes per entry beyond key and value (lower is better)',
          bars: unbounded.overhead,
        },
      ],
      findings,
    }
  },
}

/** One case in a fresh process, holding `entries` (the budget's count unless told). */
function measure(ctx: ScenarioContext, c: Case, entries = ctx.budget.memoryEntries): Promise<MemoryAnswer> {
  ctx.progress(`memory: ${c.label} (own process, ${entries} entries)`)
  return runChild<MemoryJob, MemoryAnswer>(new URL('./memory-worker.ts', import.meta.url), { ...c.job, entries })
}

/**
 * The heap each library holds for the entries, and its overhead beyond the keys and values alone (the
 * first case): over all entries (fixed costs included: code, a store's records, buffers), and per entry
 * added from half the count to the full count, where what does not grow with the entries cancels out
 * (a factor of 2 apart, so a table that doubles as it fills is as full at both counts).
 */
async function measureUnbounded(ctx: ScenarioContext, findings: string[]) {
  const entries = ctx.budget.memoryEntries
  const half = entries / 2
  const rows: string[][] = []
  const overhead: { label: string; value: number }[] = []
  let base = { full: 0, half: 0 }
  for (const c of UNBOUNDED) {
    const a = await measure(ctx, c)
    const h = await measure(ctx, c, half)
    if (a.error || h.error) {
      findings.push(`skipped ${c.label}: ${a.error ?? h.error}`)
      continue
    }
    const own = c.job.library === undefined
    if (own) base = { full: a.heapBytes, half: h.heapBytes }
    const beyond = (a.heapBytes - base.full) / entries
    const added = (a.heapBytes - h.heapBytes - (base.full - base.half)) / (entries - half)
    if (!own) overhead.push({ label: c.label, value: beyond })
    rows.push([
      c.label,
      bytes(a.heapBytes),
      bytes(a.heapBytes / entries),
      own ? '–' : bytes(beyond),
      own ? '–' : bytes(added),
      bytes(a.rssBytes),
    ])
  }
  return { rows, overhead }
}

/** Whether each library's byte bound holds when every entry is pushed through it. */
async function measureBounded(ctx: ScenarioContext, findings: string[]): Promise<string[][]> {
  const rows: string[][] = []
  for (const c of BOUNDED) {
    const a = await measure(ctx, c)
    if (a.error) {
      findings.push(`skipped ${c.label}: ${a.error}`)
      continue
    }
    const held = a.l1Entries
    rows.push([
      c.label,
      bytes(a.heapBytes),
      `${(a.heapBytes / BOUND).toFixed(2)}×`,
      held === undefined ? '–' : String(held),
    ])
    if (c.job.library === 'tiercache') {
      findings.push(
        `tiercache with lruMaxBytes ${bytes(BOUND)} (sizeOf = JSON length) kept ${held} entries and grew the heap by ` +
          `${bytes(a.heapBytes)} (${(a.heapBytes / BOUND).toFixed(2)}× the bound): the bound holds in sizeOf units; ` +
          'the heap cost of a value is its in-memory size, which a JSON-length sizeOf underestimates',
      )
    }
  }
  return rows
}
