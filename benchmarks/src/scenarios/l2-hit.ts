import { Redis } from 'ioredis'
import { pack, unpack } from 'msgpackr'
import type { AdapterOptions, CacheAdapter } from '../contenders/adapter.js'
import type { Library } from '../contenders/registry.js'
import { keyNames } from '../data/access-pattern.js'
import { makeValue } from '../data/value.js'
import { openChild } from '../harness/child.js'
import { count, plusMinus, ratio } from '../harness/format.js'
import { compareLoad, type LoadContender, type LoadResult } from '../harness/load.js'
import type { Chart, Scenario, ScenarioContext, ScenarioResult, Table } from '../harness/scenario.js'
import { median, spread } from '../harness/stats.js'
import { buildAll, countingLoader, hitRunWarnings, keyIndex, PEERS, type Skipped } from './contenders.js'
import type { BuildRequest, RunRequest, WorkerAnswer } from './l2-hit-worker.js'

const KEYS = 1000
const BASELINE = 'ioredis GET + JSON.parse'
const INFLIGHT = [1, 64] as const
/** The libraries that talk to Redis through ioredis, so auto-pipelining is theirs to turn on. */
const IOREDIS_BASED: readonly Library[] = ['tiercache', 'bentocache', 'async-cache-dedupe']

/**
 * Scenario 2: every read is a Redis hit (L1 off). 1 KB objects, 1 and 64
 * requests in flight, each library through its own Redis tier, against raw
 * ioredis GET + JSON.parse / getBuffer + msgpackr.unpack; every
 * ioredis-based contender with and without auto-pipelining.
 */
export const l2Hit: Scenario = {
  id: 'l2-hit',
  title: 'L2 hit through Redis',
  async run(ctx): Promise<ScenarioResult> {
    const setup = await preload(ctx)
    const tables: Table[] = []
    const charts: Chart[] = []
    const findings: string[] = []
    for (const concurrency of INFLIGHT) {
      ctx.progress(
        `l2-hit ${concurrency} in flight: ${setup.contenders.length} contenders × ${ctx.budget.rounds} rounds`,
      )
      const results = await compareLoad(setup.contenders, {
        baseline: BASELINE,
        concurrency,
        durationMs: ctx.budget.loadMs,
        rounds: ctx.budget.rounds,
        onResult: (name, round, ops) => ctx.progress(`  round ${round + 1} ${name}: ${count(ops)} ops/s`),
      })
      tables.push(table(concurrency, results))
      charts.push(chart(concurrency, results))
      findings.push(...targets(concurrency, results, 'one process'))
    }
    findings.push(...hitRunWarnings(setup))
    for (const { adapter } of setup.adapters) await adapter.close()
    for (const client of setup.clients) client.disconnect()
    // The same, each contender alone in its own process: a shared heap lets one contender's GC
    // land on another's time (issue 15).
    const alone = await ownProcesses(ctx)
    tables.push(...alone.tables)
    findings.push(...alone.findings)
    return {
      id: this.id,
      title: this.title,
      method:
        `${KEYS} keys of 1 KB objects in Redis, written by each library itself (${PRELOAD}); reads cycle through the keys with ` +
        `the L1 of every library off (or absent), so each read is one Redis round trip plus decoding. A closed ` +
        `loop keeps exactly 1 or 64 requests in flight for ${ctx.budget.loadMs} ms per round. Configurations: ` +
        setup.adapters.map(({ label, adapter }) => `${label}: ${adapter.config}`).join('; ') +
        '. Then again with each contender alone in its own process (built and warmed once; one closed-loop run ' +
        'per round per process, the processes taking turns in a rotated order so no two run at once), so no ' +
        "contender's garbage collection lands on another's time. CPU/op is the client process's user + system " +
        'time per operation; heap/op the JS heap it allocated per operation (growth of the used heap plus what ' +
        'each collection freed, from v8.GCProfiler), the garbage its collector then has to clear.',
      tables,
      charts,
      findings,
    }
  },
}

/**
 * How the keys are loaded before the runs, said in the report. A burst of 1,000 concurrent loads
 * (how this scenario preloaded until issue 15) keeps 1,000 loaded values and load states alive at
 * once, so V8 pretenures the allocation sites they come from, and every library then read slower
 * for the rest of its process (local probe, 64 in flight, CPU per read after a sequential vs a
 * concurrent preload: tiercache 60 vs 85-98 us, bentocache 80-85 vs 95-99, async-cache-dedupe
 * 52-57 vs 67-75), while the raw baseline, whose keys were written one at a time, was not.
 */
const PRELOAD =
  'one key at a time, like the raw keys: a burst of 1,000 concurrent loads makes V8 pretenure the ' +
  'allocation sites of loaded values and load states, after which every library here spent 12-60 % more CPU per read ' +
  'for the rest of its process (measured before this change) while the raw baseline did not'

/** Every library's Redis tier (and its variants) and the raw clients, each holding the same keys. */
async function preload(ctx: ScenarioContext) {
  const keys = keyNames('l2:', KEYS)
  const { adapters, loaders, skipped } = await buildContenders(ctx)
  ctx.progress(`l2-hit: preloading ${KEYS} keys into ${adapters.length} libraries and the raw keys`)
  // One key at a time, as the raw keys are written (see PRELOAD in the method text).
  for (const { adapter } of adapters) for (const k of keys) await adapter.get(k)
  const raw = new Redis({ host: ctx.redis.host, port: ctx.redis.port })
  const rawPiped = new Redis({ host: ctx.redis.host, port: ctx.redis.port, enableAutoPipelining: true })
  const jsonKey = (k: string) => `${ctx.redis.prefix}l2:raw:json:${k}`
  const packKey = (k: string) => `${ctx.redis.prefix}l2:raw:pack:${k}`
  for (const k of keys) {
    const v = makeValue(keyIndex(k))
    await raw.set(jsonKey(k), JSON.stringify(v))
    await raw.set(packKey(k), pack(v))
  }
  const loadsBefore = new Map([...loaders].map(([name, l]) => [name, l.calls()]))

  const next = cycler(keys)
  const contenders: LoadContender[] = [
    { name: BASELINE, op: async () => JSON.parse((await raw.get(jsonKey(next())))!) },
    { name: `${BASELINE} (autopipelining)`, op: async () => JSON.parse((await rawPiped.get(jsonKey(next())))!) },
    { name: 'ioredis getBuffer + msgpackr.unpack', op: async () => unpack((await raw.getBuffer(packKey(next())))!) },
    {
      name: 'ioredis getBuffer + msgpackr.unpack (autopipelining)',
      op: async () => unpack((await rawPiped.getBuffer(packKey(next())))!),
    },
    ...adapters.map(({ label, adapter }) => ({ name: label, op: () => adapter.get(next()) })),
  ]
  return { adapters, loaders, loadsBefore, skipped, contenders, clients: [raw, rawPiped] }
}

/**
 * The libraries on Redis with L1 off; the ioredis-based ones again with
 * auto-pipelining; tiercache again with two other codecs.
 */
async function buildContenders(ctx: ScenarioContext) {
  const loaders = new Map<string, ReturnType<typeof countingLoader>>()
  type Codec = AdapterOptions['codec']
  const options =
    (autoPipelining: boolean, codec?: Codec) =>
    (library: Library): AdapterOptions => {
      const label = `${library}${autoPipelining ? ' (autopipelining)' : ''}${codec ? ` (${codec})` : ''}`
      const counted = countingLoader((key) => makeValue(keyIndex(key)))
      loaders.set(label, counted)
      return {
        tiers: 'redis',
        redis: { host: ctx.redis.host, port: ctx.redis.port, prefix: `${ctx.redis.prefix}l2:`, autoPipelining },
        namespace: label.replace(/\W/g, ''),
        lruSize: 0,
        ttlMs: 3_600_000,
        loader: counted.loader,
        ...(codec ? { codec } : {}),
      }
    }
  const plain = await buildAll(PEERS, options(false))
  const piped = await buildAll(IOREDIS_BASED, options(true))
  // The codec's share of a Redis hit, on the real path: the core's jsonCodec() and msgpackr without records.
  const json = await buildAll(['tiercache'], options(false, 'json'))
  const maps = await buildAll(['tiercache'], options(false, 'msgpack-maps'))
  const adapters: { label: string; adapter: CacheAdapter }[] = [
    ...plain.adapters.map((a) => ({ label: a.name, adapter: a })),
    ...piped.adapters.map((a) => ({ label: `${a.name} (autopipelining)`, adapter: a })),
    ...json.adapters.map((a) => ({ label: `${a.name} (jsonCodec)`, adapter: a })),
    ...maps.adapters.map((a) => ({ label: `${a.name} (msgpackr useRecords: false)`, adapter: a })),
  ]
  const skipped: Skipped[] = [...plain.skipped, ...piped.skipped, ...json.skipped, ...maps.skipped]
  return { adapters, loaders, skipped }
}

function table(concurrency: number, results: readonly LoadResult[]): Table {
  return {
    title: `Redis hit, 1 KB object, ${concurrency} in flight`,
    columns: ['contender', 'ops/s', `× ${BASELINE}`, 'p50', 'p99', 'CPU/op', 'heap/op', 'rounds spread'],
    rows: results.map((r) => [
      r.name,
      count(r.opsPerSec),
      ratio(r.ratio),
      `${r.p50us.toFixed(0)} µs`,
      `${r.p99us.toFixed(0)} µs`,
      `${r.cpuUsPerOp.toFixed(1)} µs`,
      `${(r.heapBytesPerOp / 1024).toFixed(1)} KB`,
      plusMinus(r.spread),
    ]),
  }
}

function chart(concurrency: number, results: readonly LoadResult[]): Chart {
  return {
    file: `l2-hit-${concurrency}.svg`,
    title: `Redis hit, ${concurrency} in flight: throughput relative to ${BASELINE}`,
    unit: `× ${BASELINE} ops/s (higher is better)`,
    bars: results.map((r) => ({ label: r.name, value: r.ratio, baseline: r.name === BASELINE })),
  }
}

/**
 * Issue 15's targets for `get(k, loader)` on a Redis hit: ≥ 0.90× raw GET +
 * JSON.parse in ops/s and ≤ 1.20× its client CPU per op (each against the raw
 * client with the same auto-pipelining setting), and ahead of every peer.
 */
function targets(concurrency: number, results: readonly LoadResult[], where = 'one process'): string[] {
  const findings: string[] = []
  const byName = new Map(results.map((r) => [r.name, r]))
  for (const suffix of ['', ' (autopipelining)']) {
    const tc = byName.get(`tiercache${suffix}`)
    const raw = byName.get(`${BASELINE}${suffix}`)
    if (tc === undefined || raw === undefined) continue
    const opsRatio = tc.ratio / raw.ratio
    const cpuRatio = tc.cpuUsPerOp / raw.cpuUsPerOp
    findings.push(
      `${opsRatio >= 0.9 ? 'MET' : 'MISSED'}: ${where}, ${concurrency} in flight, tiercache${suffix} = ${ratio(opsRatio)} ` +
        `raw GET + JSON.parse${suffix} ops/s (target ≥ 0.90×)`,
      `${cpuRatio <= 1.2 ? 'MET' : 'MISSED'}: ${where}, ${concurrency} in flight, tiercache${suffix} CPU/op ` +
        `${tc.cpuUsPerOp.toFixed(1)} µs = ${ratio(cpuRatio)} raw's ${raw.cpuUsPerOp.toFixed(1)} µs (target ≤ 1.20×)`,
    )
    const peers = results.filter(
      (r) => r.name.endsWith(suffix) && PEERS.some((p) => p !== 'tiercache' && r.name === `${p}${suffix}`),
    )
    const ahead = peers.filter((p) => p.ratio >= tc.ratio)
    if (peers.length > 0) {
      findings.push(
        `${ahead.length === 0 ? 'MET' : 'MISSED'}: ${where}, ${concurrency} in flight, tiercache${suffix} ahead of every peer` +
          (ahead.length === 0
            ? ''
            : ` (not of ${ahead.map((p) => `${p.name} ${ratio(p.ratio / raw.ratio)}`).join(', ')})`),
      )
    }
  }
  const variants = results.filter((r) => r.name.startsWith('tiercache (') && r.name !== 'tiercache (autopipelining)')
  const plain = byName.get('tiercache')
  const raw = byName.get(BASELINE)
  if (plain && raw && variants.length > 0) {
    findings.push(
      `${where}, ${concurrency} in flight, codec effect: ` +
        variants.map((v) => `${v.name} = ${ratio(v.ratio / raw.ratio)}`).join(', ') +
        ` raw (default msgpackCodec: ${ratio(plain.ratio / raw.ratio)})`,
    )
  }
  return findings
}

/** Who runs alone in its own process: the raw baselines, every peer, the ioredis-based ones with auto-pipelining. */
const ALONE: readonly { name: string; library: Library | 'raw'; autoPipelining: boolean }[] = [
  { name: BASELINE, library: 'raw', autoPipelining: false },
  { name: `${BASELINE} (autopipelining)`, library: 'raw', autoPipelining: true },
  ...PEERS.map((library) => ({ name: library, library, autoPipelining: false })),
  ...IOREDIS_BASED.map((library) => ({ name: `${library} (autopipelining)`, library, autoPipelining: true })),
]

/** The Redis hit with each contender alone in its own process, taking turns round by round. */
async function ownProcesses(ctx: ScenarioContext): Promise<{ tables: Table[]; findings: string[] }> {
  const findings: string[] = []
  const sessions: { name: string; child: ReturnType<typeof openChild<BuildRequest | RunRequest, WorkerAnswer>> }[] = []
  for (const [i, c] of ALONE.entries()) {
    ctx.progress(`l2-hit own process: building ${c.name}`)
    const child = openChild<BuildRequest | RunRequest, WorkerAnswer>(new URL('./l2-hit-worker.ts', import.meta.url))
    const built = await child.request({
      build: {
        library: c.library,
        autoPipelining: c.autoPipelining,
        redis: { host: ctx.redis.host, port: ctx.redis.port, prefix: `${ctx.redis.prefix}l2alone:` },
        namespace: `alone${i}`,
        keys: KEYS,
      },
    })
    if (built.error !== undefined) {
      findings.push(`own process: skipped ${c.name}: ${built.error}`)
      await child.close()
      continue
    }
    sessions.push({ name: c.name, child })
  }
  const tables: Table[] = []
  try {
    for (const concurrency of INFLIGHT) {
      ctx.progress(
        `l2-hit own process, ${concurrency} in flight: ${sessions.length} processes × ${ctx.budget.rounds} rounds`,
      )
      const rounds = new Map(
        sessions.map((s) => [s.name, [] as Exclude<WorkerAnswer, { ready: true } | { error: string }>[]]),
      )
      for (let round = 0; round < ctx.budget.rounds; round++) {
        for (let i = 0; i < sessions.length; i++) {
          const s = sessions[(i + round) % sessions.length]!
          const answer = await s.child.request({ run: { concurrency, durationMs: ctx.budget.loadMs } })
          if (answer.error !== undefined || !('opsPerSec' in answer)) throw new Error(`${s.name}: ${answer.error}`)
          rounds.get(s.name)!.push(answer)
        }
      }
      const base = rounds.get(BASELINE)!.map((a) => a.opsPerSec)
      const results: LoadResult[] = sessions.map(({ name }) => {
        const runs = rounds.get(name)!
        const ops = runs.map((a) => a.opsPerSec)
        return {
          name,
          opsPerSec: median(ops),
          p50us: median(runs.map((a) => a.p50us)),
          p99us: median(runs.map((a) => a.p99us)),
          cpuUsPerOp: median(runs.map((a) => a.cpuUsPerOp)),
          heapBytesPerOp: median(runs.map((a) => a.heapBytesPerOp)),
          rounds: ops,
          spread: spread(ops),
          ratio: median(ops.map((o, r) => o / base[r]!)),
        }
      })
      const t = table(concurrency, results)
      tables.push({ ...t, title: `${t.title}, each contender in its own process` })
      findings.push(...targets(concurrency, results, 'own processes'))
      const loaded = [...rounds].filter(([, runs]) => runs.some((a) => a.loads > 0)).map(([name]) => name)
      if (loaded.length > 0) findings.push(`own process: loader called during the hit runs of ${loaded.join(', ')}`)
    }
  } finally {
    for (const { child } of sessions) await child.close()
  }
  return { tables, findings }
}

/** Round-robin over `keys`. */
function cycler(keys: readonly string[]): () => string {
  let i = 0
  return () => {
    i = (i + 1) % keys.length
    return keys[i]!
  }
}
