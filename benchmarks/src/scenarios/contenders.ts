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
