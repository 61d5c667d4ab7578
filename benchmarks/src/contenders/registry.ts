import type { AdapterFactory } from './adapter.js'

/**
 * Every library, loaded lazily so one that fails to import (e.g. tiercache
 * before it is built) is reported and skipped instead of failing the run.
 */
export const LIBRARIES = {
  tiercache: async () => (await import('./tiercache.js')).createTiercache,
  bentocache: async () => (await import('./bentocache.js')).createBentocache,
  'cache-manager': async () => (await import('./cache-manager.js')).createCacheManager,
  cacheable: async () => (await import('./cacheable.js')).createCacheable,
  'async-cache-dedupe': async () => (await import('./async-cache-dedupe.js')).createAsyncCacheDedupe,
  'lru-cache fetch': async () => (await import('./lru-cache.js')).createLruFetch,
} satisfies Record<string, () => Promise<AdapterFactory>>

/** A library name. */
export type Library = keyof typeof LIBRARIES

/** The factory of `library`, or the import error as a string. */
export async function factoryOf(library: Library): Promise<AdapterFactory | string> {
  try {
    return await LIBRARIES[library]()
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0]! : String(error)
  }
}
