import { Packr } from 'msgpackr'

/** Turns values into bytes for the shared store and back. */
export interface Codec {
  /** A short name recorded in events and benchmarks. */
  readonly name: string
  encode(value: unknown): Uint8Array
  decode(data: Uint8Array): unknown
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
  }
}
