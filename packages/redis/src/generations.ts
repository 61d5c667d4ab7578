/**
 * The last generation this process saw for each namespace. Keys are built
 * with it optimistically, and the generation is checked in the same round trip
 * as the operation (inside the script on standalone, a parallel script call on
 * a Cluster), so a correct guess costs nothing and a wrong one one retry.
 *
 * The first guess, "0", is never a namespace's generation (a missing
 * generation key gets a new one, see scripts.ts), so a process pays one retry
 * per namespace to learn it.
 *
 * At most `maxNamespaces` are remembered, the least recently learnt dropped
 * first: an app that makes caches of ever new names (per tenant, per test)
 * must not grow this map forever. Forgetting costs one retry on the next call,
 * never a wrong read: every call checks what it assumed.
 */
export class Generations {
  readonly #known = new Map<string, { generation: string; checkedAt: number }>()
  readonly #trustMs: number
  readonly #now: () => number
  readonly #maxNamespaces: number

  /**
   * `trustMs`: how long a checked generation is used without checking again (0 = always check).
   * `maxNamespaces`: how many namespaces are remembered.
   */
  constructor(trustMs: number, now: () => number, maxNamespaces = 1_000) {
    this.#trustMs = trustMs
    this.#now = now
    this.#maxNamespaces = maxNamespaces
  }

  /** The generation to build `namespace`'s keys with. */
  current(namespace: string): string {
    return this.#known.get(namespace)?.generation ?? '0'
  }

  /** Whether the last check of `namespace` is recent enough to skip checking now. */
  trusted(namespace: string): boolean {
    const known = this.#known.get(namespace)
    return known !== undefined && this.#trustMs > 0 && this.#now() - known.checkedAt < this.#trustMs
  }

  /** Redis said `namespace` is at `generation` just now. */
  learn(namespace: string, generation: string): void {
    // Delete first: insertion order is the order in which namespaces were last learnt.
    this.#known.delete(namespace)
    this.#known.set(namespace, { generation, checkedAt: this.#now() })
    if (this.#known.size > this.#maxNamespaces) this.#known.delete(this.#known.keys().next().value as string)
  }

  /** Namespaces remembered (for tests of the bound). */
  get size(): number {
    return this.#known.size
  }
}
