import type { AdapterOptions, CacheAdapter } from '../contenders/adapter.js'
import { factoryOf, type Library } from '../contenders/registry.js'

/** The peers every scenario lines up, in report order. */
export const PEERS: readonly Library[] = ['tiercache', 'bentocache', 'cache-manager', 'cacheable', 'async-cache-dedupe']

/** A library that could not take part, and why. */
export interface Skipped {
  readonly library: string
  readonly reason: string
}

/**
 * Builds each library with the same options; collects the ones that cannot be
 * built that way (not installed, not built, or no such feature) with the reason.
 */
export async function buildAll(
  libraries: readonly Library[],
  options: (library: Library) => AdapterOptions,
): Promise<{ adapters: CacheAdapter[]; skipped: Skipped[] }> {
  const adapters: CacheAdapter[] = []
  const skipped: Skipped[] = []
  for (const library of libraries) {
    const factory = await factoryOf(library)
    if (typeof factory === 'string') {
      skipped.push({ library, reason: factory })
      continue
    }
    try {
      adapters.push(await factory(options(library)))
    } catch (error) {
      skipped.push({ library, reason: error instanceof Error ? error.message : String(error) })
    }
  }
  return { adapters, skipped }
}

/** A loader that counts its calls: the scenarios check that a "hit" benchmark never loads. */
export function countingLoader(
  make: (key: string) => unknown,
  delayMs = 0,
): {
  loader: (key: string) => Promise<unknown>
  calls: () => number
} {
  let calls = 0
  const loader =
    delayMs > 0
      ? (key: string) => {
          calls++
          return new Promise<unknown>((resolve) => setTimeout(() => resolve(make(key)), delayMs))
        }
      : async (key: string) => {
          calls++
          return make(key)
        }
  return { loader, calls: () => calls }
}

/** The number at the end of a key (`l1:42` → 42), to build the value that belongs to it. */
export function keyIndex(key: string): number {
  return Number(key.slice(key.lastIndexOf(':') + 1))
}

/** What a hit scenario knows after its runs, to report what went wrong in them. */
export interface HitRunRecord {
  /** The counting loader of each contender, by label. */
  readonly loaders: ReadonlyMap<string, { calls: () => number }>
  /** Each loader's count when the preload ended. */
  readonly loadsBefore: ReadonlyMap<string, number>
  readonly skipped: readonly Skipped[]
  readonly adapters: readonly { readonly label: string; readonly adapter: CacheAdapter }[]
}

/**
 * Findings about a hit benchmark's runs: loader calls during them (misses),
 * libraries skipped, and store errors the adapters absorbed.
 */
export function hitRunWarnings(record: HitRunRecord): string[] {
  const findings: string[] = []
  for (const [name, l] of record.loaders) {
    const misses = l.calls() - record.loadsBefore.get(name)!
    if (misses > 0) findings.push(`WARNING: ${name} called its loader ${misses} times during the hit runs (misses)`)
  }
  for (const s of record.skipped) findings.push(`skipped ${s.library}: ${s.reason}`)
  for (const { label, adapter } of record.adapters) {
    const list = Object.entries(adapter.errors?.() ?? {}).map(([kind, n]) => `${n} × ${kind}`)
    if (list.length > 0)
      findings.push(`WARNING: ${label} reported ${list.join(', ')} (store errors fall through to the loader)`)
  }
  return findings
}
