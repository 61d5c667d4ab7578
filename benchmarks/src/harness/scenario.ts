import type { RedisEndpoint } from './redis-server.js'

/** How long and how often to measure; `quick` is the default, `full` is `--full`. */
export interface Budget {
  readonly mode: 'quick' | 'full'
  /**
   * Interleaved rounds per measurement; the median of the rounds is reported.
   * Many short rounds beat few long ones on a shared machine: the paired
   * per-round ratios cancel the slow spells.
   */
  readonly rounds: number
  /** CPU time mitata spends on one contender in one round, ms. */
  readonly microMs: number
  /** Wall time of one closed-loop load run of one contender in one round, ms. */
  readonly loadMs: number
  /** Rounds of the event scenarios (stampede, expiry), each a few seconds long. */
  readonly eventRounds: number
  /** Entries for the memory scenario. */
  readonly memoryEntries: number
}

/** What a scenario is handed. */
export interface ScenarioContext {
  readonly budget: Budget
  readonly redis: RedisEndpoint
  /** Prints one progress line (stderr), so stdout keeps only the tables. */
  progress(line: string): void
}

/** A table: the first column names the contender, the rest are figures already formatted. */
export interface Table {
  readonly title: string
  readonly columns: readonly string[]
  readonly rows: readonly (readonly string[])[]
}

/** A horizontal bar chart written as SVG next to the report. */
export interface Chart {
  /** File name inside the report folder, e.g. `l1-hit-uniform.svg`. */
  readonly file: string
  readonly title: string
  /** Caption of the value axis, e.g. `ops/s relative to await lru.get(k) (higher is better)`. */
  readonly unit: string
  readonly bars: readonly { readonly label: string; readonly value: number; readonly baseline?: boolean }[]
}

/** What one scenario measured. */
export interface ScenarioResult {
  readonly id: string
  readonly title: string
  /** How it was measured, in a few sentences (goes into the report above the tables). */
  readonly method: string
  readonly tables: readonly Table[]
  readonly charts: readonly Chart[]
  /** Target checks and observations, one per line. */
  readonly findings: readonly string[]
}

/** One benchmark scenario. */
export interface Scenario {
  readonly id: string
  readonly title: string
  run(ctx: ScenarioContext): Promise<ScenarioResult>
}

/**
 * The budgets of the two modes. Quick's Redis rounds last 500 ms: at 150 ms
 * the rounds of one contender spread ±126 % on this machine (issue 15).
 */
export const BUDGETS: Record<Budget['mode'], Budget> = {
  quick: { mode: 'quick', rounds: 5, microMs: 50, loadMs: 500, eventRounds: 2, memoryEntries: 100_000 },
  full: { mode: 'full', rounds: 11, microMs: 300, loadMs: 1000, eventRounds: 5, memoryEntries: 100_000 },
}
