import { randomBytes } from 'node:crypto'
import { VERSION_BYTES } from './envelope.js'

/**
 * Write versions of RedisStore.
 *
 * Every write (a value or a delete's tombstone) carries a fresh 16-byte id in
 * its envelope: 10 random bytes drawn once per store, then a 6-byte counter.
 * Ids never repeat, so a key that expired and was written again can never
 * come back to a version a slow load read long ago (no ABA), and no script
 * has to read the old id to make the new one.
 *
 * What the core sees is a token, `<generation>.<read at>.<id in hex>`: the
 * namespace generation the key was read at (a purge changes it), the Redis
 * time of the read in ms (a version older than the fence window is refused,
 * since the tombstone that could refuse it may be gone), and the id, empty
 * when the key held nothing.
 */
export class VersionIds {
  readonly #id = Buffer.alloc(VERSION_BYTES)
  #counter = 0

  constructor() {
    randomBytes(VERSION_BYTES - 6).copy(this.#id)
  }

  /** A new id, never handed out before by any store (with overwhelming probability). */
  next(): Buffer {
    this.#counter = (this.#counter + 1) % 2 ** 48
    const id = Buffer.from(this.#id)
    id.writeUIntBE(this.#counter, VERSION_BYTES - 6, 6)
    return id
  }
}

/** A version token taken apart. */
export interface ParsedVersion {
  readonly generation: string
  /** Redis time of the read, in ms. */
  readonly readAt: number
  /** The id the key held (empty: nothing). */
  readonly id: Buffer
}

/**
 * The token the core gets for `id` read at `generation` when Redis's clock
 * said `readAt`; `id` may be bytes `start` to `end` of a larger buffer.
 */
export function formatVersion(
  generation: string,
  readAt: number,
  id: Buffer | string,
  start?: number,
  end?: number,
): string {
  return `${generation}.${readAt}.${typeof id === 'string' ? Buffer.from(id, 'latin1').toString('hex') : id.toString('hex', start, end)}`
}

/** Parse a token this store issued; a `TypeError` naming `name` for anything else. */
export function parseVersion(version: unknown, name: string): ParsedVersion {
  const match = typeof version === 'string' ? /^(\d+)\.(\d+)\.((?:[0-9a-f]{2})*)$/.exec(version) : null
  if (match === null) throw new TypeError(`${name} must be a version read from this store, got ${String(version)}`)
  return { generation: match[1]!, readAt: Number(match[2]), id: Buffer.from(match[3]!, 'hex') }
}
