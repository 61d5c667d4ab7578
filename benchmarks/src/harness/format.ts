/** Number formatting shared by the terminal tables, the report and the charts. */

/** 1234567 → "1.23M", 12345 → "12.3k". */
export function count(n: number): string {
  if (!Number.isFinite(n)) return '–'
  if (n >= 1e6) return `${(n / 1e6).toPrecision(3)}M`
  if (n >= 1e3) return `${(n / 1e3).toPrecision(3)}k`
  return n.toPrecision(3)
}

/** A duration given in nanoseconds, in the unit that reads best. */
export function nanos(ns: number): string {
  if (!Number.isFinite(ns)) return '–'
  if (ns < 1e3) return `${ns.toFixed(ns < 100 ? 1 : 0)} ns`
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`
  return `${(ns / 1e9).toFixed(2)} s`
}

/** A duration given in milliseconds. */
export function millis(ms: number): string {
  return nanos(ms * 1e6)
}

/** A ratio to the baseline: "0.87×". */
export function ratio(r: number): string {
  if (!Number.isFinite(r)) return '–'
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`
}

/** A fraction as a percentage: 0.034 → "±3.4%". */
export function plusMinus(fraction: number): string {
  return `±${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`
}

/** Bytes in KiB/MiB. */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '–'
  const abs = Math.abs(n)
  if (abs >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`
  if (abs >= 2 ** 10) return `${(n / 2 ** 10).toFixed(2)} KiB`
  return `${Math.round(n)} B`
}
