/**
 * Which envelope is cheaper: the fixed 8-byte header RedisStore uses, or a
 * msgpackr array [flags, afterFresh, data]? Both wrap the same core bytes.
 *
 *   node --import tsx benchmarks/src/redis/envelope.ts
 */
import { Packr } from 'msgpackr'
import { DELETED, open, seal } from '../../../packages/redis/src/envelope.js'

const ID = Buffer.alloc(16, 1)

const packr = new Packr({ useRecords: false })
const ROUNDS = 5
const N = 200_000

function bench(name: string, size: number, run: (data: Uint8Array) => number): void {
  const data = Uint8Array.from({ length: size }, (_, i) => i & 0xff)
  let best = Number.POSITIVE_INFINITY
  let sink = 0
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < N; i++) sink += run(data)
    best = Math.min(best, Number(process.hrtime.bigint() - started) / N)
  }
  if (sink === -1) console.log(sink)
  console.log(
    `${name.padEnd(34)} ${String(size).padStart(6)} B  ${best.toFixed(0).padStart(6)} ns/op (best of ${ROUNDS})`,
  )
}

for (const size of [32, 1_024, 65_536]) {
  bench('header: seal + open', size, (data) => {
    const { bytes } = seal({ data, freshMs: 10_000, keepMs: 70_000 }, ID)
    const opened = open(bytes, 69_000)
    return typeof opened === 'string' || opened === DELETED ? 0 : opened.freshMs + bytes.length
  })
  bench('msgpackr: pack + unpack', size, (data) => {
    const bytes = packr.pack([0, 60_000, data])
    const [flags, afterFresh, inner] = packr.unpack(bytes) as [number, number, Uint8Array]
    return flags + 69_000 - afterFresh + inner.length
  })
}
const header = seal({ data: new Uint8Array(32), freshMs: 10_000, keepMs: 70_000 }, ID).bytes.length - 32
const packed = packr.pack([0, 60_000, new Uint8Array(32)]).length - 32
console.log(`overhead per record: header ${header} B, msgpackr ${packed} B`)
