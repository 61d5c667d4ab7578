import type { SharedStore } from '@tiercache/core'

/**
 * A shared store that keeps nothing: lets the memory scenario weigh tiercache's
 * L1 alone (the default `MemoryStore` would also hold every value, encoded).
 * Benchmark-only; no lock, so it is no use for anything that loads.
 */
export class NullStore implements SharedStore {
  readonly name = 'null'
  async get(): Promise<undefined> {
    return undefined
  }
  async getMany(_namespace: string, keys: readonly string[]): Promise<undefined[]> {
    return keys.map(() => undefined)
  }
  async set(): Promise<void> {}
  async setMany(): Promise<void> {}
  async delete(): Promise<void> {}
  async purge(): Promise<void> {}
}
