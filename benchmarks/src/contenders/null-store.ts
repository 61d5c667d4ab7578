import type { SharedStore, StoreRead, StoreWriteResult } from '@tiercache/core'

const NOTHING: StoreRead = { record: undefined, version: '' }
const WRITTEN: StoreWriteResult = { applied: true, version: '' }

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
  async read(): Promise<StoreRead> {
    return NOTHING
  }
  async readMany(_namespace: string, keys: readonly string[]): Promise<StoreRead[]> {
    return keys.map(() => NOTHING)
  }
  async set(): Promise<StoreWriteResult> {
    return WRITTEN
  }
  async setMany(_namespace: string, entries: readonly unknown[]): Promise<StoreWriteResult[]> {
    return entries.map(() => WRITTEN)
  }
  async delete(): Promise<StoreWriteResult> {
    return WRITTEN
  }
  async purge(): Promise<void> {}
}
