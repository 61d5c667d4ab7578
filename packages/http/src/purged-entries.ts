import type { TierCache } from '@tiercache/core'
import type { HttpCacheValue } from './cached-response.js'

/**
 * Drops entries found to have outlived a purge of one of their tags, once per
 * key for every concurrent reader: readers that found the same purged entry
 * share one delete, so none of them deletes what another one's reload has
 * just stored.
 */
export class PurgedEntries {
  readonly #cache: TierCache<HttpCacheValue>
  readonly #running = new Map<string, Promise<void>>()

  constructor(cache: TierCache<HttpCacheValue>) {
    this.#cache = cache
  }

  /** Delete `key` on every node, or join the delete of it already running. */
  drop(key: string): Promise<void> {
    let running = this.#running.get(key)
    if (running === undefined) {
      running = this.#cache.delete(key).finally(() => this.#running.delete(key))
      this.#running.set(key, running)
    }
    return running
  }
}
