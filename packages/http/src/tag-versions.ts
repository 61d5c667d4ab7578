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
  /** Tags purged on this node → the purge count at their latest purge, oldest first (bounded by `PURGE_LOG_MAX`). */
  readonly #purgedAt = new Map<string, number>()
  #purges = 0

  constructor(cache: TierCache<string>) {
    this.#cache = cache
  }

  /** A mark of the purges made on this node so far, for `current(tags, since)`. */
  mark(): number {
    return this.#purges
  }

  /**
   * The current version of each of `tags`, one store round trip for all that L1
   * does not hold. With `since` (a `mark()` taken when a fetch started), a tag
   * purged on this node since then gets a version no purge ever makes, so a
   * response rendered before the purge is stale at its first read rather than
   * recorded under the purge's new version.
   */
  async current(tags: readonly string[], since?: number): Promise<Record<string, string>> {
    const versions = await this.#cache.getMany(tags, { ttl: 0 }, (missing) => missing.map(newVersion))
    const result: Record<string, string> = {}
    tags.forEach((tag, i) => {
      const purgedAt = since === undefined ? undefined : this.#purgedAt.get(tag)
      result[tag] = purgedAt !== undefined && purgedAt > since! ? PURGED_DURING_FETCH : (versions[i] ?? '')
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

  /**
   * `unchanged` for the hot path, synchronously from L1: `undefined` when L1
   * does not hold every tag (then ask `unchanged`).
   */
  unchangedNow(recorded: Readonly<Record<string, string>>): boolean | undefined {
    for (const tag in recorded) {
      const held = this.#cache.peek(tag)
      if (held === undefined || held.stale) return undefined
      if (held.value !== recorded[tag]) return false
    }
    return true
  }

  /** Make every response stored under `tag` stale, on every node. */
  async purge(tag: string): Promise<void> {
    this.#purgedAt.delete(tag)
    this.#purgedAt.set(tag, ++this.#purges)
    if (this.#purgedAt.size > PURGE_LOG_MAX) this.#purgedAt.delete(this.#purgedAt.keys().next().value!)
    await this.#cache.set(tag, newVersion(), { ttl: 0 })
  }
}

/** Not a version `newVersion` can make (those are 12 base64url characters). */
const PURGED_DURING_FETCH = 'purged-during-fetch'

/**
 * How many purged tags this node remembers for fetches in flight: a fetch
 * spanning more purges than this of other tags may miss one of its own.
 */
const PURGE_LOG_MAX = 10_000

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
