/**
 * Heap sampling for the soak: run a workload of distinct keys in rounds, take
 * the heap after a full GC between rounds, and measure how much it still
 * grows per operation once every bounded structure (L1, the store's LRU) is full.
 */

/** What a soak measured. */
export interface HeapTrend {
  /** Operations after the warm-up. */
  readonly operations: number
  /** Heap used after GC at the end of the warm-up and at the end, in bytes. */
  readonly warmHeap: number
  readonly endHeap: number
  /** (endHeap - warmHeap) / operations: ~0 when everything is bounded, tens of bytes per leaked map entry. */
  readonly bytesPerOperation: number
  /** Heap after GC at each round, in MB, for the report. */
  readonly samplesMb: readonly number[]
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

/** Heap used after two full GCs (needs `--expose-gc`). */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('the soak needs node --expose-gc (see test/faults/vitest.config.ts)')
  gc()
  await tick()
  gc()
  return process.memoryUsage().heapUsed
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
    bytesPerOperation: counted === 0 ? 0 : (endHeap - warmHeap) / counted,
    samplesMb: samples.map((b) => Math.round(b / 1e5) / 10),
  }
}
