import { createHash } from 'node:crypto'
import { Command, type Redis } from 'ioredis'
import { STAMPED, UNSTAMPED } from './envelope.js'
import { CHECK_GENERATION, NOW, VERSION_OF } from './scripts.js'
import { formatVersion } from './versions.js'

/**
 * The read of one key on a standalone Redis, the path of every L2 hit.
 * KEYS: generation, value; ARGV: generation, max bytes →
 * - a plain string: another generation (see CHECK_GENERATION);
 * - `[bytes, PTTL, now]` for a value of at most max bytes: its version id is
 *   in its own bytes (see {@link versionOfBytes}), so none is read;
 * - `[bytes | size | false, PTTL, version id, now]` otherwise: an empty or
 *   absent key, a key of another type, or the size of a value over max bytes.
 *
 * Five commands for a hit (the generation, TIME, STRLEN, GET, PTTL), where
 * the many-key READ script runs six (GETRANGE again for the version). STRLEN
 * first: a value over max bytes is never copied into the script (a GETRANGE
 * of max bytes per read of a 50 MB value kept Redis busy 10 ms a call).
 */
export const READ_ONE = `${CHECK_GENERATION}${NOW}${VERSION_OF}
local max = tonumber(ARGV[2])
local size = redis.pcall('STRLEN', KEYS[2])
if type(size) ~= 'number' then
  return {'', redis.call('PTTL', KEYS[2]), '!', now}
end
if size > max then
  return {size, redis.call('PTTL', KEYS[2]), version_of(KEYS[2]), now}
end
if size == 0 then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    return {false, -2, redis.call('GET', version_key(KEYS[2])) or '', now}
  end
  return {'', redis.call('PTTL', KEYS[2]), version_of(KEYS[2]), now}
end
return {redis.call('GET', KEYS[2]), redis.call('PTTL', KEYS[2]), now}`

const SHA = createHash('sha1').update(READ_ONE).digest('hex')

/** The version token of a read whose value came whole: the id is bytes 9-24 of an envelope (what the scripts' version_of reads). */
export function versionOfBytes(generation: string, now: number, bytes: Buffer): string {
  if (bytes.length >= 24 && (bytes[0] === STAMPED || bytes[0] === UNSTAMPED))
    return formatVersion(generation, now, bytes, 8, 24)
  // Not an envelope: '!' and its first 24 bytes, a string no envelope id can equal (as version_of).
  return formatVersion(generation, now, Buffer.concat([Buffer.from('!'), bytes.subarray(0, 24)]))
}

/**
 * Sends {@link READ_ONE} as its own EVALSHA command rather than through
 * ioredis's `defineCommand` wrapper (which adds a promise, a copy of the
 * arguments and a closure per call), loading it by EVAL on NOSCRIPT as that wrapper does.
 */
export class ReadOne {
  readonly #client: Redis
  readonly #maxBytes: string
  readonly #options: { replyEncoding: null; keyPrefix?: string }

  constructor(client: Redis, maxBytes: number) {
    this.#client = client
    // GETRANGE takes an integer, which Lua prints in full only below 1e17: a fractional or huge
    // limit failed it, and every read came back malformed. floor keeps the size check (sizes are whole).
    this.#maxBytes = String(Math.min(Math.floor(maxBytes), Number.MAX_SAFE_INTEGER))
    const keyPrefix = (client.options as { keyPrefix?: string }).keyPrefix
    this.#options = keyPrefix ? { replyEncoding: null, keyPrefix } : { replyEncoding: null }
  }

  send(generationKey: string, key: string, generation: string): Promise<unknown> {
    const args = [SHA, 2, generationKey, key, generation, this.#maxBytes]
    const sent = this.#client.sendCommand(new Command('evalsha', args, this.#options)) as Promise<unknown>
    return sent.then(undefined, (error: unknown) => {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      const source = [READ_ONE, 2, generationKey, key, generation, this.#maxBytes]
      return this.#client.sendCommand(new Command('eval', source, this.#options)) as Promise<unknown>
    })
  }
}

/**
 * The read of one key without a script: `MGET generation value`, one plain
 * command that Redis runs in about a microsecond where the read script's
 * fixed cost is several (the latency of a hit at one call in flight).
 * Atomic like the script, so the generation check is as exact. What the
 * script adds it cannot: the PTTL (a stamped record carries its expiry
 * instead, see envelope.ts) and Redis's time (the caller takes both from
 * the store's ServerClock). RedisStore falls back to {@link ReadOne} for
 * anything but a stamped record of the expected generation.
 */
export class ReadBare {
  readonly #client: Redis
  readonly #options: { replyEncoding: null; keyPrefix?: string }

  constructor(client: Redis) {
    this.#client = client
    const keyPrefix = (client.options as { keyPrefix?: string }).keyPrefix
    this.#options = keyPrefix ? { replyEncoding: null, keyPrefix } : { replyEncoding: null }
  }

  /** Resolves to `[generation, value]`, each a Buffer or null. */
  send(generationKey: string, key: string): Promise<[Buffer | null, Buffer | null]> {
    return this.#client.sendCommand(new Command('mget', [generationKey, key], this.#options)) as Promise<
      [Buffer | null, Buffer | null]
    >
  }

  /** Resolves to `[generation, ...values]`, each a Buffer or null, the values in the order of `keys`. */
  sendMany(generationKey: string, keys: readonly string[]): Promise<(Buffer | null)[]> {
    return this.#client.sendCommand(new Command('mget', [generationKey, ...keys], this.#options)) as Promise<
      (Buffer | null)[]
    >
  }
}
