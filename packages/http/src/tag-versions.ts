import { randomBytes } from 'node:crypto'
import type { TierCache } from '@tiercache/core'
import { type HeaderMap, headerValue } from './headers.js'

/**
 * Purge by tag in O(1): every tag has a version kept in its own `TierCache`
 * namespace (so in the shared store, and dropped from every node's L1 over
 * IPC when it changes). A response records the versions of its tags when it is
 * stored; purging a tag gives it a new version, which makes every response
 * recorded under the old one stale at its next read, without finding them.
 *
 * A tag whose version is missing (never seen, or evicted from the store) gets
 * a new random version: an eviction then invalidates too much, never too little.
 */
export class TagVersions {
  readonly #cache: TierCache<string>

  constructor(cache: TierCache<string>) {
    this.#cache = cache
  }

  /** The current version of each of `tags`, one store round trip for all that L1 does not hold. */
  async current(tags: readonly string[]): Promise<Record<string, string>> {
    const versions = await this.#cache.getMany(tags, { ttl: 0 }, (missing) => missing.map(newVersion))
    const result: Record<string, string> = {}
    tags.forEach((tag, i) => {
      result[tag] = versions[i] ?? ''
    })
    return result
  }

  /** Whether every tag recorded with a response still has the version it had then. */
  async unchanged(recorded: Readonly<Record<string, string>>): Promise<boolean> {
    const tags = Object.keys(recorded)
    if (tags.length === 0) return true
    const current = await this.current(tags)
    return tags.every((tag) => current[tag] === recorded[tag])
  }

  /** Make every response stored under `tag` stale, on every node. */
  async purge(tag: string): Promise<void> {
    await this.#cache.set(tag, newVersion(), { ttl: 0 })
  }
}

/**
 * The tags a response carries in `names` (e.g. `Cache-Tag`, `Surrogate-Key`):
 * separated by commas or spaces, as Cloudflare and Fastly read them.
 */
export function responseTags(headers: HeaderMap, names: readonly string[]): string[] {
  const tags = new Set<string>()
  for (const name of names) {
    for (const tag of (headerValue(headers, name) ?? '').split(/[\s,]+/)) {
      if (tag.length > 0) tags.add(tag)
    }
  }
  return [...tags]
}

function newVersion(): string {
  return randomBytes(9).toString('base64url')
}
