/** A set of strings that forgets its oldest member past `max` members. */
export class BoundedSet {
  readonly #members = new Set<string>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  has(member: string): boolean {
    return this.#members.size > 0 && this.#members.has(member)
  }

  add(member: string): void {
    this.#members.add(member)
    if (this.#members.size > this.#max) this.#members.delete(this.#members.values().next().value as string)
  }

  get size(): number {
    return this.#members.size
  }
}
