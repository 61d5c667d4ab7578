/**
 * Key sequences replayed by the throughput scenarios. Each sequence is drawn
 * once, up front, with a seeded generator, and every contender replays the
 * same one, so drawing random numbers costs nothing inside the timed loop and
 * all libraries see identical traffic.
 */

/** A sequence of keys whose length is a power of two (the replay index wraps with a mask). */
export interface AccessPattern {
  readonly name: string
  readonly keys: readonly string[]
}

/** Mulberry32: a tiny seeded PRNG, good enough to draw benchmark traffic reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Key names `prefix0` … `prefix{count-1}`. */
export function keyNames(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`)
}

/** Every key equally likely. */
export function uniform(keys: readonly string[], length = 1 << 16, seed = 1): AccessPattern {
  const random = seededRandom(seed)
  return { name: 'uniform', keys: Array.from({ length }, () => keys[Math.floor(random() * keys.length)]!) }
}

/**
 * Zipf(s): the key of rank r is drawn with probability proportional to 1/r^s.
 * Ranks are assigned to keys in a shuffled order, so the hot keys are not the
 * ones inserted first (an LRU must not get them for free from insertion order).
 */
export function zipf(keys: readonly string[], s = 1, length = 1 << 16, seed = 2): AccessPattern {
  const random = seededRandom(seed)
  const ranked = [...keys]
  for (let i = ranked.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[ranked[i], ranked[j]] = [ranked[j]!, ranked[i]!]
  }
  const cdf = new Float64Array(ranked.length)
  let total = 0
  for (let r = 0; r < ranked.length; r++) {
    total += 1 / (r + 1) ** s
    cdf[r] = total
  }
  const draw = (): string => {
    const u = random() * total
    let lo = 0
    let hi = cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid]! < u) lo = mid + 1
      else hi = mid
    }
    return ranked[lo]!
  }
  return { name: `zipf(${s})`, keys: Array.from({ length }, draw) }
}
