/**
 * The last generation this process saw for each namespace. Keys are built
 * with it optimistically, and the generation is checked in the same round trip
 * as the operation (inside the script on standalone, a parallel GET on a
 * Cluster), so a correct guess costs nothing and a wrong one one retry.
 *
 * A namespace that was never purged has no generation key, which reads as "0":
 * that is also the first guess, so most namespaces never pay the retry.
 */
export class Generations {
  readonly #known = new Map<string, { generation: string; checkedAt: number }>()
  readonly #trustMs: number
  readonly #now: () => number

  /** `trustMs`: how long a checked generation is used without checking again (0 = always check). */
  constructor(trustMs: number, now: () => number) {
    this.#trustMs = trustMs
    this.#now = now
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
    this.#known.set(namespace, { generation, checkedAt: this.#now() })
  }
}
