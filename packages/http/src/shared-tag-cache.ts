import { TierCache, type TierCacheError } from '@tiercache/core'
import type { HttpCacheValue } from './cached-response.js'

/** One response cache's tag namespace, and how many engines hold it open. */
interface Held {
  readonly tags: TierCache<string>
  users: number
}

/**
 * The tag namespaces built for response caches, one per response cache: two
 * `HttpCache` engines over one `TierCache` then read and write the same tag
 * versions, so a purge through one is seen by the other at once (each having
 * its own would let one keep serving from its L1 what the other purged).
 */
const built = new WeakMap<TierCache<HttpCacheValue>, Held>()

/**
 * The tag namespace next to `cache` (same store, same IPC, same clock, its own
 * namespace), built on first use and shared by every engine over `cache`.
 * Its store errors are reported on `cache`'s `'error'` event, where the
 * response cache's own are (with the tag namespace's name as `cache`). Release it with `releaseTagCache` when the engine closes.
 */
export function acquireTagCache(cache: TierCache<HttpCacheValue>): TierCache<string> {
  let held = built.get(cache)
  if (held === undefined) {
    const tags = new TierCache<string>({
      name: `${cache.name}:tags`,
      store: cache.store,
      ipc: cache.ipc,
      clock: cache.clock,
      ttl: 0,
      // Without IPC no node could hear of a purge made elsewhere, so then L1 is off for tag versions.
      lruSize: cache.ipc === undefined ? 0 : 10_000,
    })
    // Reported under the tag namespace's own name, so a listener can tell the two apart.
    tags.on('error', (error: TierCacheError, key: string | undefined, name: string) =>
      cache.emit('error', error, key, name),
    )
    held = { tags, users: 0 }
    built.set(cache, held)
  }
  held.users++
  return held.tags
}

/** One engine is done with `cache`'s tag namespace; the last one closes it. */
export function releaseTagCache(cache: TierCache<HttpCacheValue>): void {
  const held = built.get(cache)
  if (held === undefined || --held.users > 0) return
  built.delete(cache)
  held.tags.close()
}
