import { measure } from 'mitata'
import { median, spread } from './stats.js'

/** One contender of a micro-benchmark: `op` does one operation (sync, or returns a promise mitata awaits). */
export interface MicroContender {
  readonly name: string
  readonly op: () => unknown
}

/** Per-contender result: nanoseconds per operation, median of the rounds. */
export interface MicroResult {
  readonly name: string
  readonly nsPerOp: number
  /** The per-round figures the median was taken from. */
  readonly rounds: readonly number[]
  /** Largest relative distance of a round from the median. */
  readonly spread: number
  /**
   * Throughput relative to the baseline: the median over rounds of
   * baseline time / this time, each round's pair measured close together, so
   * a slow spell of the machine cancels out instead of landing on one side.
   */
  readonly ratio: number
}

/**
 * Measures every contender in the same process, interleaved: one untimed
 * warm-up pass, then `rounds` passes, each visiting every contender once in an
 * order rotated by one per round, so neither JIT warm-up, GC debt nor a noisy
 * neighbour lands on the same contender every time. Within a pass mitata
 * times batches of 4096 calls and reports the median batch; across passes the
 * median is kept.
 */
export async function compareMicro(
  contenders: readonly MicroContender[],
  options: {
    rounds: number
    cpuMs: number
    /** Name of the contender the ratios are relative to; the first one when absent. */
    baseline?: string
    onResult?: (name: string, round: number, ns: number) => void
  },
): Promise<MicroResult[]> {
  const gc = (globalThis as { gc?: () => void }).gc
  const run = async (c: MicroContender, cpuMs: number): Promise<number> => {
    // gc: false when --expose-gc is missing: mitata's fallback allocates 1 GB instead.
    const stats = await measure(c.op, { min_cpu_time: cpuMs * 1e6, gc: gc ?? false } as never)
    return stats.p50
  }
  for (const c of contenders) await run(c, Math.max(10, options.cpuMs / 2))
  const perRound = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + round) % contenders.length]!
      const ns = await run(c, options.cpuMs)
      perRound.get(c.name)!.push(ns)
      options.onResult?.(c.name, round, ns)
    }
  }
  const base = perRound.get(options.baseline ?? contenders[0]!.name)!
  return contenders.map((c) => {
    const rounds = perRound.get(c.name)!
    const ratio = median(rounds.map((ns, round) => base[round]! / ns))
    return { name: c.name, nsPerOp: median(rounds), rounds, spread: spread(rounds), ratio }
  })
}

/**
 * Builds `() => get(sequence[i++ & mask], arg)` as a fresh function for each
 * contender. A closure written once in the source would share one feedback
 * vector between contenders, turning the `get` call site megamorphic and
 * charging every library for the others; `new Function` gives each contender
 * its own call site, as in an application that uses one cache library.
 */
export function replay<A>(get: (key: string, arg: A) => unknown, sequence: readonly string[], arg: A): () => unknown {
  if ((sequence.length & (sequence.length - 1)) !== 0) {
    throw new TypeError(`sequence length must be a power of two, got ${sequence.length}`)
  }
  const factory = new Function(
    'get',
    'sequence',
    'arg',
    'mask',
    'let i = 0\nreturn () => get(sequence[(i = (i + 1) & mask)], arg)',
  ) as (g: typeof get, s: readonly string[], a: A, m: number) => () => unknown
  return factory(get, sequence, arg, sequence.length - 1)
}
