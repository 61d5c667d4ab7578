/** Slot number meaning "none" in a {@link Recency}. */
const NONE = 0xffffffff

/**
 * Which slot of a slot table was used least recently: a doubly linked list
 * threaded through two `Uint32Array`s, 8 bytes a slot and no object per
 * entry. L1 (local-tier.ts) and MemoryStore's records (memory-records.ts)
 * keep their entries in parallel arrays indexed by slot; this is their LRU order.
 */
export class Recency {
  #newer: Uint32Array
  #older: Uint32Array
  #newest = NONE
  #oldest = NONE

  constructor(capacity: number) {
    this.#newer = new Uint32Array(capacity)
    this.#older = new Uint32Array(capacity)
  }

  /** The least recently used slot; `undefined` when no slot is linked. */
  get oldest(): number | undefined {
    return this.#oldest === NONE ? undefined : this.#oldest
  }

  /** Room for `capacity` slots, the links kept. */
  grow(capacity: number): void {
    this.#newer = grown(this.#newer, new Uint32Array(capacity))
    this.#older = grown(this.#older, new Uint32Array(capacity))
  }

  /** `slot`, not linked yet, becomes the most recently used. */
  link(slot: number): void {
    this.#older[slot] = this.#newest
    this.#newer[slot] = NONE
    if (this.#newest !== NONE) this.#newer[this.#newest] = slot
    this.#newest = slot
    if (this.#oldest === NONE) this.#oldest = slot
  }

  /** `slot` leaves the order. */
  unlink(slot: number): void {
    const newer = this.#newer[slot]!
    const older = this.#older[slot]!
    if (newer === NONE) this.#newest = older
    else this.#older[newer] = older
    if (older === NONE) this.#oldest = newer
    else this.#newer[older] = newer
  }

  /** `slot`, linked, becomes the most recently used. */
  touch(slot: number): void {
    if (slot === this.#newest) return
    this.unlink(slot)
    this.link(slot)
  }
}

/** A slot array of exactly `capacity` entries, all `undefined` (one backing store, no slack). */
export function slotsOf<T>(capacity: number): (T | undefined)[] {
  return new Array<T | undefined>(capacity).fill(undefined)
}

/** A slot array of `capacity` entries with `from`'s (if any) copied into its start. */
export function grownSlots<T>(from: (T | undefined)[] | undefined, capacity: number): (T | undefined)[] {
  const to = slotsOf<T>(capacity)
  if (from !== undefined) for (let i = 0; i < from.length; i++) to[i] = from[i]
  return to
}

/** `to` with `from` copied into its start. */
export function grown<T extends Float64Array | Int32Array | Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from)
  return to
}
