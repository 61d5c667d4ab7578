/**
 * Heap sampling for the soak: run a workload of distinct keys in rounds, take
 * the heap after a full GC between rounds, and measure how much it still
 * grows per operation once every bounded structure (L1, the store's LRU) is full.
 */

import { getHeapSpaceStatistics } from 'node:v8'

/** What a soak measured. */
export interface HeapTrend {
  /** Operations after the warm-up. */
  readonly operations: number
  /** Heap used after GC at the end of the warm-up and at the end, in bytes. */
  readonly warmHeap: number
  readonly endHeap: number
  /**
   * Growth per operation: the least-squares slope of the heap after GC against operations counted, over
   * the samples from the end of the warm-up on. ~0 when everything is bounded, tens of bytes per leaked
   * map entry. A slope, not (endHeap - warmHeap) / operations: the heap moves ~100 KB between samples
   * whatever the workload, and one high last sample then read as a leak when few operations were counted.
   */
  readonly bytesPerOperation: number
  /** Heap after GC at each round, in MB, for the report. */
  readonly samplesMb: readonly number[]
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

/**
 * Heap used by data after two full GCs (needs `--expose-gc`): every space but
 * the code spaces. Compiled code is the JIT warming up, not a map growing: a
 * heap snapshot diff over 15,000 namespaces of the churn workload found its
 * growth (~250 KB) all in code objects and V8's weak lists, no JS object more.
 */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('the soak needs node --expose-gc (see test/faults/vitest.config.ts)')
  gc()
  await tick()
  gc()
  let used = 0
  for (const space of getHeapSpaceStatistics()) if (!space.space_name.startsWith('code')) used += space.space_used_size
  return used
}

/**
 * Run `round(offset, size)` `rounds` times with `size` operations each; the
 * first `warmRounds` fill the bounded structures and are not counted. Stops
 * early (with fewer rounds) past `budgetMs`.
 */
export async function measureHeapTrend(options: {
  round: (offset: number, size: number) => Promise<void>
  rounds: number
  warmRounds: number
  size: number
  budgetMs: number
}): Promise<HeapTrend> {
  const { round, rounds, warmRounds, size, budgetMs } = options
  const started = Date.now()
  const samples: number[] = []
  let warmHeap = 0
  let counted = 0
  for (let r = 0; r < rounds; r++) {
    await round(r * size, size)
    const heap = await heapAfterGc()
    samples.push(heap)
    if (r === warmRounds - 1) warmHeap = heap
    if (r >= warmRounds) counted += size
    if (r >= warmRounds + 2 && Date.now() - started > budgetMs) break
  }
  const endHeap = samples.at(-1)!
  return {
    operations: counted,
    warmHeap,
    endHeap,
    bytesPerOperation: slope(samples.slice(warmRounds - 1), size),
    samplesMb: samples.map((b) => Math.round(b / 1e5) / 10),
  }
}

/** Least-squares slope of `heaps` (one sample every `step` operations), in bytes per operation. */
function slope(heaps: readonly number[], step: number): number {
  const n = heaps.length
  if (n < 2) return 0
  const meanX = ((n - 1) / 2) * step
  const meanY = heaps.reduce((sum, y) => sum + y, 0) / n
  let num = 0
  let den = 0
  heaps.forEach((y, i) => {
    const dx = i * step - meanX
    num += dx * (y - meanY)
    den += dx * dx
  })
  return num / den
}
