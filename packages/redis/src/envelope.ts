/**
 * The bytes RedisStore keeps under a value key: a 32-byte header (38 when the
 * writer gave a serving window), then the value exactly as the core encoded it.
 *
 *   byte 0      0xCC, a magic byte: text written by hand (or by another program,
 *               or by the unversioned 0xCA format of earlier releases) almost
 *               never starts with it, so such bytes read as malformed. 0xCB is
 *               the same header without bytes 24-31 (earlier releases, and
 *               every delete's tombstone): still read, through the read script
 *   byte 1      flags: bit 0 negative entry, bit 1 never stale, bit 2 kept
 *               until deleted, bit 3 staleMs follows, bit 4 tombstone (a
 *               delete: no record, only its version), bit 5 resurrected (an old
 *               value re-armed after a failed load), bit 6 meta follows, bit 7
 *               tagged (the core framed the entry's tags in front of its
 *               bytes); any other bit = malformed
 *   bytes 2-7   afterFresh: how long the record is kept once no longer fresh
 *               (keepMs - freshMs), big-endian uint48
 *   bytes 8-23  the write's version id (see `versions.ts`): the Lua scripts
 *               read it with GETRANGE, so a conditional write compares it
 *               without loading the value
 *   bytes 24-31 (0xCC only) when the key expires, in Redis's clock (ms, a
 *               float64): the client sends zeros, and the script that sets the
 *               key's expiry (a write, a touch) stamps it here from PEXPIRETIME,
 *               never from a client's clock
 *   then 6 bytes (bit 3 only) the writer's staleMs, uint48, all ones = Infinity
 *   then (bit 6 only) the meta the loader stored beside the value
 *               (`ctx.meta`, encoded by the core): a uint32 length, the bytes
 *
 * Redis's own PTTL says how long the key has left, and `PTTL - afterFresh` is
 * how long it stays fresh: what the read scripts use. The stamp says the
 * same without a script: a read of the bare value (MGET, see redis-store.ts)
 * takes `stamp - Redis's time now`, with now over-estimated from the last
 * script reply (server-clock.ts). Freshness depends on the clock of the Redis
 * node alone either way.
 *
 * A fixed header rather than a msgpackr envelope: 2-4x cheaper for values up
 * to 1 KiB, even at 64 KiB, and the value comes back as a view, never copied
 * (`benchmarks/src/redis/envelope.ts`).
 */

import type { StoreRecord } from '@tiercache/core'

/** The magic byte of a record whose header carries its expiry (bytes 24-31). */
export const STAMPED = 0xcc
/** The magic byte of a header without the expiry stamp: a tombstone, or a record of an earlier release. */
export const UNSTAMPED = 0xcb
const VERSION_AT = 8
/** Bytes of a version id. */
export const VERSION_BYTES = 16
/** Where the expiry stamp is, in a record of {@link STAMPED} format. */
export const STAMP_AT = VERSION_AT + VERSION_BYTES
/** The header of an {@link UNSTAMPED} record, and of a tombstone. */
const SHORT_HEADER = STAMP_AT
const HEADER_BYTES = STAMP_AT + 8
/**
 * The most bytes an envelope adds to a value of maxValueBytes (the limit counts the core's data
 * and meta): the header, staleMs, and the meta's length. A read takes values up to the limit plus
 * this, so whatever a write accepted reads back.
 */
export const ENVELOPE_OVERHEAD = HEADER_BYTES + 6 + 4
const NEGATIVE = 0b00001
const NEVER_STALE = 0b00010
const KEEP_FOREVER = 0b00100
const HAS_STALE_MS = 0b01000
const TOMBSTONE = 0b10000
const RESURRECTED = 0b100000
const HAS_META = 0b1000000
const TAGGED = 0b10000000
const KNOWN_FLAGS = NEGATIVE | NEVER_STALE | KEEP_FOREVER | HAS_STALE_MS | TOMBSTONE | RESURRECTED | HAS_META | TAGGED

/**
 * What Redis gets as the PX of a record the core wants kept until deleted
 * (`keepMs: Infinity`): ten years. A real expiry keeps PTTL meaningful, so
 * `PTTL - afterFresh` works the same for every record.
 */
export const FOREVER_MS = 10 * 365 * 24 * 3600 * 1000

/** Durations are stored in 48 bits (8900 years); all ones stands for Infinity. */
const MAX_UINT48 = 2 ** 48 - 1

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
  readonly staleMs?: number
  readonly resurrected?: true
  readonly meta?: Uint8Array
  readonly tagged?: true
  /** The version `open` was given, if it was (then the record is a `StoreRecord`, built once). */
  readonly version?: string
}

/** What `open` returns for a delete's tombstone: no record. */
export const DELETED: unique symbol = Symbol('deleted')

/** The durations and data of a write, already validated (numbers, keep >= fresh). */
export interface Sealable {
  readonly data: Uint8Array | undefined
  readonly freshMs: number
  readonly keepMs: number
  readonly staleMs?: number | undefined
  readonly resurrected?: true | undefined
  readonly meta?: Uint8Array | undefined
  readonly tagged?: true | undefined
}

/** Wrap a core write, under version id `version`, into the stored bytes and the PX to give Redis. */
export function seal(write: Sealable, version: Uint8Array): SealedRecord {
  const { data, freshMs, keepMs, staleMs, resurrected, tagged } = write
  // A miss has no value to describe.
  const meta = data === undefined ? undefined : write.meta
  let flags = 0
  if (meta !== undefined) flags |= HAS_META
  if (resurrected === true) flags |= RESURRECTED
  if (tagged === true) flags |= TAGGED
  if (data === undefined) flags |= NEGATIVE
  if (freshMs === Number.POSITIVE_INFINITY) flags |= NEVER_STALE
  if (keepMs === Number.POSITIVE_INFINITY) flags |= KEEP_FOREVER
  if (staleMs !== undefined) flags |= HAS_STALE_MS
  const px = Math.max(1, Math.ceil(Math.min(keepMs, FOREVER_MS)))
  const fresh = Math.max(0, Math.min(freshMs, px))
  const timed = staleMs === undefined ? HEADER_BYTES : HEADER_BYTES + 6
  const header = meta === undefined ? timed : timed + 4 + meta.byteLength
  const length = data === undefined ? 0 : data.byteLength
  const bytes = Buffer.allocUnsafe(header + length)
  writeHeader(bytes, STAMPED, flags, px - Math.floor(fresh), version)
  bytes.fill(0, STAMP_AT, HEADER_BYTES)
  if (staleMs !== undefined) bytes.writeUIntBE(Math.min(Math.ceil(Math.max(0, staleMs)), MAX_UINT48), HEADER_BYTES, 6)
  if (meta !== undefined) {
    bytes.writeUInt32BE(meta.byteLength, timed)
    bytes.set(meta, timed + 4)
  }
  if (data !== undefined) bytes.set(data, header)
  return { bytes, px }
}

/** What the touch script writes over bytes 2-7 (afterFresh), the PX, and the flags it sets (never stale, kept until deleted). */
export interface SealedTouch {
  readonly afterFresh: Buffer
  readonly px: number
  readonly neverStale: boolean
  readonly keepForever: boolean
}

/** The new times of a record made fresh again (`touch`), in the envelope's terms. */
export function sealTouch(times: { readonly freshMs: number; readonly keepMs: number }): SealedTouch {
  const px = Math.max(1, Math.ceil(Math.min(times.keepMs, FOREVER_MS)))
  const fresh = Math.max(0, Math.min(times.freshMs, px))
  const afterFresh = Buffer.allocUnsafe(6)
  afterFresh.writeUIntBE(px - Math.floor(fresh), 0, 6)
  return {
    afterFresh,
    px,
    neverStale: times.freshMs === Number.POSITIVE_INFINITY,
    keepForever: times.keepMs === Number.POSITIVE_INFINITY,
  }
}

/** The tombstone a delete leaves for `fenceMs`: only the version id. */
export function sealTombstone(version: Uint8Array, fenceMs: number): SealedRecord {
  const bytes = Buffer.allocUnsafe(SHORT_HEADER)
  writeHeader(bytes, UNSTAMPED, TOMBSTONE | NEGATIVE, 0, version)
  return { bytes, px: Math.max(1, Math.ceil(fenceMs)) }
}

function writeHeader(bytes: Buffer, magic: number, flags: number, afterFresh: number, version: Uint8Array): void {
  bytes[0] = magic
  bytes[1] = flags
  bytes.writeUIntBE(afterFresh, 2, 6)
  bytes.set(version.subarray(0, VERSION_BYTES), VERSION_AT)
}

/**
 * Read stored bytes back, given the key's PTTL from the same round trip:
 * the record, `DELETED` for a tombstone, or a string describing the problem
 * when the bytes are not an envelope (the caller reports it and reads a miss).
 */
export function open(bytes: Buffer, pttl: number): OpenedRecord | typeof DELETED | string
export function open(bytes: Buffer, pttl: number, version: string): StoreRecord | typeof DELETED | string
export function open(bytes: Buffer, pttl: number, version?: string): OpenedRecord | typeof DELETED | string {
  if (bytes.length < 1) return 'empty bytes'
  const magic = bytes[0]
  if (magic !== STAMPED && magic !== UNSTAMPED) {
    return `first byte 0x${bytes[0]!.toString(16)} is not the envelope's 0xcc (or 0xcb)`
  }
  const base = magic === STAMPED ? HEADER_BYTES : SHORT_HEADER
  if (bytes.length < base) return `${bytes.length} bytes, shorter than the ${base}-byte header`
  const flags = bytes[1]!
  if ((flags & ~KNOWN_FLAGS) !== 0) return `unknown flags 0x${flags.toString(16)}`
  if ((flags & TOMBSTONE) !== 0) return bytes.length === base ? DELETED : 'a tombstone carries data'
  const timed = (flags & HAS_STALE_MS) !== 0 ? base + 6 : base
  if (bytes.length < timed) return `${bytes.length} bytes, shorter than the ${timed}-byte header`
  let header = timed
  let meta: Uint8Array | undefined
  if ((flags & HAS_META) !== 0) {
    if (bytes.length < timed + 4) return `${bytes.length} bytes, shorter than the meta length`
    const metaBytes = bytes.readUInt32BE(timed)
    header = timed + 4 + metaBytes
    if (bytes.length < header) return `${bytes.length} bytes, shorter than the ${metaBytes}-byte meta`
    meta = bytes.subarray(timed + 4, header)
  }
  const negative = (flags & NEGATIVE) !== 0
  if (negative && (bytes.length !== header || meta !== undefined)) return 'a negative entry carries data'
  const afterFresh = bytes.readUIntBE(2, 6)
  // PTTL -1 (no expiry) only happens when someone PERSISTed the key by hand.
  const keepForever = (flags & KEEP_FOREVER) !== 0 || pttl === -1
  const remaining = pttl === -1 ? Number.POSITIVE_INFINITY : pttl
  const data = negative ? undefined : bytes.subarray(header)
  const freshMs = (flags & NEVER_STALE) !== 0 ? Number.POSITIVE_INFINITY : remaining - afterFresh
  const keepMs = keepForever ? Number.POSITIVE_INFINITY : remaining
  // The common record (no flags, no meta, no stale window) in one object, with its version when given.
  if ((flags & (TAGGED | RESURRECTED)) === 0 && meta === undefined && timed === base) {
    return version === undefined ? { data, freshMs, keepMs } : { data, freshMs, keepMs, version }
  }
  const plain: OpenedRecord = version === undefined ? { data, freshMs, keepMs } : { data, freshMs, keepMs, version }
  const tagMarked: OpenedRecord = (flags & TAGGED) !== 0 ? { ...plain, tagged: true } : plain
  const marked: OpenedRecord = (flags & RESURRECTED) !== 0 ? { ...tagMarked, resurrected: true } : tagMarked
  const record: OpenedRecord = meta === undefined ? marked : { ...marked, meta }
  if (timed === base) return record
  const staleMs = bytes.readUIntBE(base, 6)
  return { ...record, staleMs: staleMs === MAX_UINT48 ? Number.POSITIVE_INFINITY : staleMs }
}

/**
 * When the key holding `bytes` expires, in Redis's clock (ms), as the script
 * that set its expiry stamped it; `undefined` when the bytes carry no stamp
 * (a tombstone, a record of an earlier release, anything not an envelope).
 */
export function stampOf(bytes: Buffer): number | undefined {
  if (bytes.length < HEADER_BYTES || bytes[0] !== STAMPED) return undefined
  const stamp = bytes.readDoubleBE(STAMP_AT)
  // Zeros: a write whose script did not stamp it (none does so); read through the script instead.
  return stamp > 0 ? stamp : undefined
}
