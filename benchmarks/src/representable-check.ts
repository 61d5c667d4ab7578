/**
 * `pnpm exec tsx benchmarks/src/representable-check.ts`: what the codec's
 * representability check (run on every `set` and loader value, never on a read)
 * costs on the benchmarks' 1 KB record, next to encoding that record.
 */
import { msgpackCodec } from '../../packages/core/src/codec.js'
import { makeValue } from './data/value.js'

const codec = msgpackCodec()
const values = Array.from({ length: 1_000 }, (_, i) => makeValue(i))

function nsPerOp(run: (value: object) => unknown): number {
  let best = Number.POSITIVE_INFINITY
  for (let round = 0; round < 7; round++) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < 200_000; i++) run(values[i % values.length]!)
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 200_000)
  }
  return best
}

const check = nsPerOp((value) => codec.findUnrepresentable!(value))
const encode = nsPerOp((value) => codec.encode(value))
console.log(
  JSON.stringify({ bytes: JSON.stringify(values[1]).length, checkNs: Math.round(check), encodeNs: Math.round(encode) }),
)
