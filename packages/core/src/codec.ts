import { Packr } from 'msgpackr'
import { findUnrepresentable, type Representable, type Unrepresentable } from './representable.js'

/** Turns values into bytes for the shared store and back. */
export interface Codec {
  /** A short name recorded in events and benchmarks. */
  readonly name: string
  encode(value: unknown): Uint8Array
  decode(data: Uint8Array): unknown
  /**
   * The first part of `value` this codec would not give back as it is, or
   * `undefined`. `set` and loader results are checked with it (a `TypeError`
   * naming the path), so no node serves a value other nodes decode differently.
   * Optional: values for a codec without it are not checked.
   */
  findUnrepresentable?(value: unknown): Unrepresentable | undefined
}

const typedArrayPrototypes = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
].map((type) => type.prototype)

/**
 * What `msgpackCodec` gives back unchanged. A `Buffer` comes back as a plain
 * `Uint8Array` (same bytes), which is what a `Uint8Array`-typed field promises.
 */
const MSGPACK_KEEPS: Representable = {
  undefined: true,
  nonFinite: true,
  bigint: true,
  collections: true,
  opaque: new Set<object>([
    Date.prototype,
    RegExp.prototype,
    Error.prototype,
    ArrayBuffer.prototype,
    DataView.prototype,
    Buffer.prototype,
    ...typedArrayPrototypes,
  ]),
}

/** What `jsonCodec` gives back unchanged: JSON's own types only. */
const JSON_KEEPS: Representable = {
  undefined: false,
  nonFinite: false,
  bigint: false,
  collections: false,
  opaque: new Set(),
}

/** First byte of a `msgpackCodec` payload: which of its two msgpackr formats follows. */
const PLAIN = 0
const RECORDS = 1
/** Past this depth the Map search gives up and takes the format that is always right. */
const MAX_SEARCH_DEPTH = 32

/**
 * The default codec: msgpackr, keeping `Date`, `Map`, `Set`, `BigInt`, typed
 * arrays and `undefined` inside objects.
 *
 * Two formats, chosen per value when it is written and named by a leading byte:
 * - plain msgpack maps for values without a `Map` (most API data). msgpackr's
 *   records would cost a `new Function` compile on every decode here: record
 *   definitions travel inside each message (no process shares a structure
 *   table), so the compiled reader never outlives its message. Measured in
 *   docs/benchmarks: plain decodes a 1 KB object faster than JSON.parse,
 *   records slower;
 * - msgpackr records for values that hold a `Map`, since records are what tells
 *   a plain object from a `Map` in msgpack.
 * Writes pay a walk of the value to look for a `Map`; reads pay nothing.
 */
export function msgpackCodec(): Codec {
  const plain = new Packr({ moreTypes: true, useBigIntExtension: true, useRecords: false, mapsAsObjects: true })
  const records = new Packr({ moreTypes: true, useBigIntExtension: true })
  return {
    name: 'msgpackr',
    encode(value) {
      const format = holdsMap(value, 0) ? RECORDS : PLAIN
      const body = (format === RECORDS ? records : plain).pack(value)
      const data = new Uint8Array(body.length + 1)
      data[0] = format
      data.set(body, 1)
      return data
    },
    findUnrepresentable: (value) => findUnrepresentable(value, MSGPACK_KEEPS),
    decode(data) {
      const format = data[0]
      if (format === PLAIN) return plain.unpack(data.subarray(1))
      if (format === RECORDS) return records.unpack(data.subarray(1))
      throw new TypeError(`not a tiercache msgpack payload (format byte ${String(format)})`)
    },
  }
}

function holdsMap(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (value instanceof Map) return true
  if (depth >= MAX_SEARCH_DEPTH) return true
  if (Array.isArray(value) || value instanceof Set) {
    for (const item of value) if (holdsMap(item, depth + 1)) return true
    return false
  }
  if (ArrayBuffer.isView(value) || value instanceof Date) return false
  for (const key in value) {
    if (holdsMap((value as Record<string, unknown>)[key], depth + 1)) return true
  }
  return false
}

/** JSON codec: for values that are plain JSON and interop with non-Node readers. */
export function jsonCodec(): Codec {
  const encoder = new TextEncoder()
  const decoder = new TextDecoder()
  return {
    name: 'json',
    encode: (value) => encoder.encode(JSON.stringify(value)),
    decode: (data) => JSON.parse(decoder.decode(data)),
    findUnrepresentable: (value) => findUnrepresentable(value, JSON_KEEPS),
  }
}

/**
 * Throws a `TypeError` naming `name` and the path inside the value when `codec`
 * would not give `value` back as it is. `key`, when given, is named too (a loader's value);
 * `hint`, when given, ends the message (what to do instead).
 */
export function checkRepresentable(codec: Codec, value: unknown, name: string, key?: string, hint?: string): void {
  const found = codec.findUnrepresentable?.(value)
  if (found === undefined) return
  const where =
    key === undefined ? `${name}${found.path}` : `${name} of key "${key}" at ${found.path || '(the value itself)'}`
  const advice = hint === undefined ? '' : `; ${hint}`
  throw new TypeError(`${where} ${found.reason}, which the ${codec.name} codec cannot give back unchanged${advice}`)
}

/**
 * Throws a `TypeError` naming `name` unless `value` has a codec's `encode` and
 * `decode`: without them every encode failed, and each value was kept in L1
 * only (an encode failure is an `error` event, not a rejection).
 */
export function checkCodec(value: unknown, name: string): asserts value is Codec | undefined {
  // null is taken as not given, as the cache's `codec ?? msgpackCodec()` always has.
  if (value === undefined || value === null) return
  const codec = value as Partial<Record<'encode' | 'decode', unknown>> | null
  const missing = (['encode', 'decode'] as const).filter((method) => typeof codec?.[method] !== 'function')
  if (missing.length > 0) throw new TypeError(`${name} must be a Codec; it has no ${missing.join(', ')} method`)
}
