import { Packr } from 'msgpackr'

/** Turns values into bytes for the shared store and back. */
export interface Codec {
  /** A short name recorded in events and benchmarks. */
  readonly name: string
  encode(value: unknown): Uint8Array
  decode(data: Uint8Array): unknown
}

/**
 * The default codec: msgpackr, keeping `Date`, `Map`, `Set`, `BigInt`,
 * typed arrays and `undefined` inside objects.
 *
 * Records stay on (msgpackr's default) without a shared `structures` store:
 * each message carries its own record definitions, so any process decodes what
 * any other wrote, and records are what tells a plain object from a `Map`.
 */
export function msgpackCodec(): Codec {
  const packr = new Packr({
    moreTypes: true,
    useBigIntExtension: true,
  })
  return {
    name: 'msgpackr',
    encode: (value) => packr.pack(value),
    decode: (data) => packr.unpack(data),
  }
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
