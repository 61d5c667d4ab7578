import { msgpackCodec } from '@tiercache/core'
import { Packr } from 'msgpackr'

/** One way to turn a value into bytes (or a string) and back. */
export interface CodecVariant {
  readonly encode: (value: unknown) => Uint8Array | string
  readonly decode: (data: never) => unknown
}

/** The codec variants compared by the codec scenario, by name; built lazily, one per child process. */
export const CODEC_VARIANTS: Record<string, () => CodecVariant> = {
  JSON: () => ({ encode: (v) => JSON.stringify(v), decode: (s: string) => JSON.parse(s) }),
  'JSON via Buffer': () => ({
    encode: (v) => Buffer.from(JSON.stringify(v)),
    decode: (b: Buffer) => JSON.parse(b.toString()),
  }),
  'msgpackr default (records)': () => packr(new Packr()),
  'msgpackr useRecords: false': () => packr(new Packr({ useRecords: false })),
  'msgpackr shared structures': () => packr(new Packr({ structures: [], saveStructures: () => true } as never)),
  'tiercache msgpackCodec()': () => {
    const core = msgpackCodec()
    return { encode: (v) => core.encode(v), decode: (b: Uint8Array) => core.decode(b) }
  },
}

function packr(p: Packr): CodecVariant {
  return { encode: (v) => p.pack(v), decode: (b: Uint8Array) => p.unpack(b) }
}
