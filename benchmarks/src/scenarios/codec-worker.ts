/** Child process of the codec scenario: times one codec variant alone (see codec.ts for why alone). */
import { makeValue } from '../data/value.js'
import { serveChild } from '../harness/child.js'
import { compareMicro } from '../harness/micro.js'
import { CODEC_VARIANTS } from './codec-variants.js'

/** What the parent asks. */
export interface CodecJob {
  readonly variant: string
  readonly values: number
  readonly rounds: number
  readonly cpuMs: number
}

/** What the child answers: ns per decode and encode (median of rounds), bytes, spreads. */
export interface CodecAnswer {
  readonly decodeNs: number
  readonly encodeNs: number
  readonly decodeSpread: number
  readonly encodeSpread: number
  readonly bytes: number
}

serveChild<CodecJob, CodecAnswer>(async (job) => {
  const variant = CODEC_VARIANTS[job.variant]!()
  const values = Array.from({ length: job.values }, (_, i) => makeValue(i * 37))
  const encoded = values.map((v) => variant.encode(v))
  const mask = job.values - 1
  let i = 0
  let j = 0
  const [decode, encode] = await compareMicro(
    [
      {
        name: 'decode',
        op: () => {
          i = (i + 1) & mask
          return variant.decode(encoded[i] as never)
        },
      },
      {
        name: 'encode',
        op: () => {
          j = (j + 1) & mask
          return variant.encode(values[j]!)
        },
      },
    ],
    { rounds: job.rounds, cpuMs: job.cpuMs },
  )
  const size = (d: Uint8Array | string) => (typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength)
  return {
    decodeNs: decode!.nsPerOp,
    encodeNs: encode!.nsPerOp,
    decodeSpread: decode!.spread,
    encodeSpread: encode!.spread,
    bytes: encoded.reduce((a, d) => a + size(d), 0) / encoded.length,
  }
})
