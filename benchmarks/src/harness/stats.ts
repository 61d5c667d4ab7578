/** Order statistics over plain number arrays. */

/** The q-quantile (0..1) of `values`, by nearest rank on a sorted copy; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[index]!
}

/** The median of `values` (mean of the two middle ones when the count is even). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Largest relative distance of a round from the median, as a fraction: how much the rounds disagree. */
export function spread(values: readonly number[]): number {
  const m = median(values)
  if (!(m > 0)) return 0
  return Math.max(...values.map((v) => Math.abs(v - m) / m))
}
