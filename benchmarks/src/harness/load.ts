import { performance } from 'node:perf_hooks'
import { GCProfiler } from 'node:v8'
import { median, quantile, spread } from './stats.js'

/** One contender of a load run: `op` performs one request and resolves when it is answered. */
export interface LoadContender {
  readonly name: string
  readonly op: () => Promise<unknown>
}

/** Per-contender result of interleaved load runs. */
export interface LoadResult {
  readonly name: string
  /** Completed operations per second, median of the rounds. */
  readonly opsPerSec: number
  /** Median latency of one operation, µs (median of the rounds' medians). */
  readonly p50us: number
  /** 99th percentile latency, µs (median of the rounds' p99). */
  readonly p99us: number
  /**
   * CPU time this process spent per operation (user + system, µs), median of
   * the rounds: what the library costs the application, and far less
   * sensitive than wall time to other processes sharing the machine.
   */
  readonly cpuUsPerOp: number
  /**
   * JS heap bytes allocated per operation (median of the rounds): the growth of
   * the used heap plus what each collection freed, from `v8.GCProfiler`. What a
   * library makes the garbage collector do, beside its CPU.
   */
  readonly heapBytesPerOp: number
  readonly rounds: readonly number[]
  readonly spread: number
  /** Throughput relative to the baseline: median over rounds of this / baseline (paired, see compareMicro). */
  readonly ratio: number
}

/**
 * Closed loop: `concurrency` workers each issue `op` back to back for
 * `durationMs`, so exactly `concurrency` requests are in flight at any time.
 * Returns throughput and the latency of each request.
 */
export async function closedLoop(
  op: () => Promise<unknown>,
  options: { concurrency: number; durationMs: number },
): Promise<{ opsPerSec: number; latenciesUs: number[]; cpuUsPerOp: number; heapBytesPerOp: number }> {
  // The harness's own allocation (a latency per op) is the same for every contender.
  const latencies: number[] = []
  const profiler = new GCProfiler()
  profiler.start()
  const heapAtStart = process.memoryUsage().heapUsed
  const cpu = process.cpuUsage()
  const start = performance.now()
  const end = start + options.durationMs
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now()
      await op()
      latencies.push((performance.now() - t0) * 1000)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  const elapsed = performance.now() - start
  const used = process.cpuUsage(cpu)
  const heapAtEnd = process.memoryUsage().heapUsed
  let freed = 0
  for (const c of profiler.stop()?.statistics ?? []) {
    freed += c.beforeGC.heapStatistics.usedHeapSize - c.afterGC.heapStatistics.usedHeapSize
  }
  return {
    opsPerSec: (latencies.length / elapsed) * 1000,
    latenciesUs: latencies,
    cpuUsPerOp: (used.user + used.system) / latencies.length,
    heapBytesPerOp: (heapAtEnd - heapAtStart + freed) / latencies.length,
  }
}

/**
 * Runs every contender under the same closed-loop load, interleaved like
 * {@link compareMicro}: a short warm-up pass, then `rounds` passes in an order
 * rotated by one per round; reports medians across rounds.
 */
export async function compareLoad(
  contenders: readonly LoadContender[],
  options: {
    concurrency: number
    durationMs: number
    rounds: number
    /** Name of the contender the ratios are relative to; the first one when absent. */
    baseline?: string
    onResult?: (name: string, round: number, opsPerSec: number) => void
  },
): Promise<LoadResult[]> {
  const gc = (globalThis as { gc?: () => void }).gc
  for (const c of contenders) await closedLoop(c.op, { concurrency: options.concurrency, durationMs: 60 })
  const rounds = new Map<string, { ops: number[]; p50: number[]; p99: number[]; cpu: number[]; heap: number[] }>(
    contenders.map((c) => [c.name, { ops: [], p50: [], p99: [], cpu: [], heap: [] }]),
  )
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + round) % contenders.length]!
      gc?.()
      const r = await closedLoop(c.op, { concurrency: options.concurrency, durationMs: options.durationMs })
      const slot = rounds.get(c.name)!
      slot.ops.push(r.opsPerSec)
      slot.p50.push(quantile(r.latenciesUs, 0.5))
      slot.p99.push(quantile(r.latenciesUs, 0.99))
      slot.cpu.push(r.cpuUsPerOp)
      slot.heap.push(r.heapBytesPerOp)
      options.onResult?.(c.name, round, r.opsPerSec)
    }
  }
  const base = rounds.get(options.baseline ?? contenders[0]!.name)!.ops
  return contenders.map((c) => {
    const slot = rounds.get(c.name)!
    return {
      ratio: median(slot.ops.map((ops, round) => ops / base[round]!)),
      name: c.name,
      opsPerSec: median(slot.ops),
      p50us: median(slot.p50),
      p99us: median(slot.p99),
      cpuUsPerOp: median(slot.cpu),
      heapBytesPerOp: median(slot.heap),
      rounds: slot.ops,
      spread: spread(slot.ops),
    }
  })
}
