import { runChild } from '../harness/child.js'
import { bytes, nanos, plusMinus, ratio } from '../harness/format.js'
import type { Scenario, ScenarioResult, Table } from '../harness/scenario.js'
import { CODEC_VARIANTS } from './codec-variants.js'
import type { CodecAnswer, CodecJob } from './codec-worker.js'

const VALUES = 256
const BASELINE = 'JSON'

/**
 * Scenario 2b: the codec the core puts in front of the shared store, for 1 KB
 * objects: JSON against msgpackr's modes. Each variant runs in its own
 * process: msgpackr keeps its decoder state at module level, so two modes in
 * one process slow each other (measured: `useRecords: false` decodes 1.8×
 * slower next to a records Packr than alone), which no application sees.
 */
export const codec: Scenario = {
  id: 'codec',
  title: 'Codec for 1 KB objects (JSON vs msgpackr)',
  async run(ctx): Promise<ScenarioResult> {
    const answers = new Map<string, CodecAnswer>()
    for (const variant of Object.keys(CODEC_VARIANTS)) {
      ctx.progress(`codec: ${variant} (own process)`)
      const job: CodecJob = { variant, values: VALUES, rounds: ctx.budget.rounds, cpuMs: ctx.budget.microMs }
      answers.set(variant, await runChild<CodecJob, CodecAnswer>(new URL('./codec-worker.ts', import.meta.url), job))
    }
    const base = answers.get(BASELINE)!
    const table = (phase: 'decode' | 'encode') => phaseTable(answers, phase)
    const findings = decodeFindings(answers)
    return {
      id: this.id,
      title: this.title,
      method:
        `${VALUES} distinct 1 KB objects, encoded once per codec, then decoded and encoded in a loop timed by ` +
        'mitata; each variant in its own process (see above). `JSON` decodes the string ioredis `GET` returns; ' +
        '`JSON via Buffer` adds the UTF-8 decode a binary-safe store needs. `msgpackr shared structures` keeps ' +
        'record definitions out of the messages, which needs every process to share them (msgpackr ' +
        '`getStructures`/`saveStructures`). The core codec is `msgpackCodec()` from @tiercache/core.',
      tables: [table('decode'), table('encode')],
      charts: [
        {
          file: 'codec-decode.svg',
          title: 'Decode one 1 KB object: speed relative to JSON.parse',
          unit: '× JSON.parse speed (higher is better)',
          bars: [...answers].map(([name, a]) => ({
            label: name,
            value: base.decodeNs / a.decodeNs,
            baseline: name === BASELINE,
          })),
        },
      ],
      findings,
    }
  },
}

type Answers = ReadonlyMap<string, CodecAnswer>

function phaseTable(answers: Answers, phase: 'decode' | 'encode'): Table {
  const base = answers.get(BASELINE)!
  return {
    title: `${phase} one 1 KB object`,
    columns: ['codec', 'time/op', `× ${BASELINE} speed`, 'size', 'rounds spread'],
    rows: [...answers].map(([name, a]) => {
      const ns = phase === 'decode' ? a.decodeNs : a.encodeNs
      const baseNs = phase === 'decode' ? base.decodeNs : base.encodeNs
      return [
        name,
        nanos(ns),
        ratio(baseNs / ns),
        bytes(a.bytes),
        plusMinus(phase === 'decode' ? a.decodeSpread : a.encodeSpread),
      ]
    }),
  }
}

/** The decode ranking, and what the core's codec costs against JSON.parse. */
function decodeFindings(answers: Answers): string[] {
  const base = answers.get(BASELINE)!
  const ranked = [...answers].sort((a, b) => a[1].decodeNs - b[1].decodeNs)
  const core = answers.get('tiercache msgpackCodec()')
  const findings = [
    `decode ranking: ${ranked.map(([name, a]) => `${name} ${ratio(base.decodeNs / a.decodeNs)}`).join(', ')}`,
  ]
  if (core) {
    findings.push(
      `the core's codec decodes at ${ratio(base.decodeNs / core.decodeNs)} the speed of JSON.parse: ` +
        (core.decodeNs > base.decodeNs
          ? 'a Redis hit cannot beat raw GET + JSON.parse on decoding alone'
          : 'no handicap against raw GET + JSON.parse'),
    )
  }
  return findings
}
