/**
 * The keys whose origin failed on their last load, so that a stale answer for
 * one says `STALE` (the origin is failing) rather than `UPDATING` (a refresh is
 * running). Bounded: past `max` keys the longest-failing one is forgotten, which
 * only turns one later `STALE` into `UPDATING`.
 */
export class FailingOrigins {
  readonly #keys = new Set<string>()
  readonly #max: number

  constructor(max = 10_000) {
    this.#max = max
  }

  /** The last load of `key` failed. */
  failed(key: string): void {
    // Re-inserted, so the set's order stays the order of the latest failures.
    this.#keys.delete(key)
    this.#keys.add(key)
    if (this.#keys.size > this.#max) this.#keys.delete(this.#keys.values().next().value!)
  }

  /** The origin answered for `key` again. */
  recovered(key: string): void {
    this.#keys.delete(key)
  }

  has(key: string): boolean {
    // Nothing failing, the common case: no hashing of the key on the hot path.
    return this.#keys.size > 0 && this.#keys.has(key)
  }
}
