/**
 * The bytes RedisStore keeps under a value key: an 8-byte header, then the
 * value exactly as the core encoded it.
 *
 *   byte 0     0xCA, a magic byte: text written by hand (or by another program)
 *              almost never starts with it, so such bytes read as malformed
 *   byte 1     flags: bit 0 negative entry, bit 1 never stale, bit 2 kept
 *              until deleted; any other bit set means malformed
 *   bytes 2-7  the stale window (keepMs - freshMs) as a big-endian uint48
 *
 * Only the stale window is stored, never a timestamp: Redis's own PTTL says how
 * long the key has left, and `PTTL - staleWindow` is how long it stays fresh.
 * Freshness therefore depends on the clock of the Redis node alone.
 *
 * A fixed header instead of a msgpackr envelope: see `benchmarks/envelope.ts`
 * in this package for the measurement behind the choice.
 */

const MAGIC = 0xca
const HEADER_BYTES = 8
const NEGATIVE = 0b001
const NEVER_STALE = 0b010
const KEEP_FOREVER = 0b100
const KNOWN_FLAGS = NEGATIVE | NEVER_STALE | KEEP_FOREVER

/**
 * What Redis gets as the PX of a record the core wants kept until deleted
 * (`keepMs: Infinity`): ten years. A real expiry keeps PTTL meaningful, so
 * `PTTL - staleWindow` works the same for every record.
 */
export const FOREVER_MS = 10 * 365 * 24 * 3600 * 1000

/** Stale windows are stored in 48 bits; more than 8900 years is refused. */
const MAX_STALE_WINDOW = 2 ** 48 - 1

/** What a write needs to send: the bytes and the PX. */
export interface SealedRecord {
  readonly bytes: Buffer
  readonly px: number
}

/** A record read back: its header fields and the core's bytes. */
export interface OpenedRecord {
  readonly data: Uint8Array | undefined
  readonly freshMs: number
  readonly keepMs: number
}

/**
 * Wrap a core write into the stored bytes and the PX to give Redis.
 * `keepMs` and `freshMs` are already validated (finite or Infinity, keep >= fresh, keep > 0).
 */
export function seal(data: Uint8Array | undefined, freshMs: number, keepMs: number): SealedRecord {
  let flags = 0
  if (data === undefined) flags |= NEGATIVE
  if (freshMs === Number.POSITIVE_INFINITY) flags |= NEVER_STALE
  if (keepMs === Number.POSITIVE_INFINITY) flags |= KEEP_FOREVER
  const px = Math.max(1, Math.ceil(Math.min(keepMs, FOREVER_MS)))
  const fresh = Math.max(0, Math.min(freshMs, px))
  const staleWindow = Math.min(px - Math.floor(fresh), MAX_STALE_WINDOW)
  const length = data === undefined ? 0 : data.byteLength
  const bytes = Buffer.allocUnsafe(HEADER_BYTES + length)
  bytes[0] = MAGIC
  bytes[1] = flags
  bytes.writeUIntBE(staleWindow, 2, 6)
  if (data !== undefined) bytes.set(data, HEADER_BYTES)
  return { bytes, px }
}

/**
 * Read stored bytes back, given the key's PTTL from the same round trip.
 * Returns a string describing the problem when the bytes are not an envelope,
 * so the caller reports it and reads a miss.
 */
export function open(bytes: Buffer, pttl: number): OpenedRecord | string {
  if (bytes.length < HEADER_BYTES) return `${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`
  if (bytes[0] !== MAGIC) return `first byte 0x${bytes[0]!.toString(16)} is not the envelope's 0xca`
  const flags = bytes[1]!
  if ((flags & ~KNOWN_FLAGS) !== 0) return `unknown flags 0x${flags.toString(16)}`
  const negative = (flags & NEGATIVE) !== 0
  if (negative && bytes.length !== HEADER_BYTES) return 'a negative entry carries data'
  const staleWindow = bytes.readUIntBE(2, 6)
  // PTTL -1 (no expiry) only happens when someone PERSISTed the key by hand.
  const keepForever = (flags & KEEP_FOREVER) !== 0 || pttl === -1
  const remaining = pttl === -1 ? Number.POSITIVE_INFINITY : pttl
  return {
    data: negative ? undefined : bytes.subarray(HEADER_BYTES),
    freshMs: (flags & NEVER_STALE) !== 0 ? Number.POSITIVE_INFINITY : remaining - staleWindow,
    keepMs: keepForever ? Number.POSITIVE_INFINITY : remaining,
  }
}
