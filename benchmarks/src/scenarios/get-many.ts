import { Redis } from 'ioredis'
import type { AdapterOptions } from '../contenders/adapter.js'
import type { Library } from '../contenders/registry.js'
import { keyNames } from '../data/access-pattern.js'
import { makeValue } from '../data/value.js'
import { count, plusMinus, ratio } from '../harness/format.js'
import { compareLoad, type LoadContender, type LoadResult } from '../harness/load.js'
import type { Scenario, ScenarioContext, ScenarioResult, Table } from '../harness/scenario.js'
import { buildAll, countingLoader, hitRunWarnings, keyIndex, PEERS } from './contenders.js'

const KEYS = 1000
const BATCH = 100
const BASELINE = 'ioredis MGET + JSON.parse'

/**
 * Scenario 3: read 100 keys at once from Redis (L1 off): each library's batch
 * call where it has one, and 100 single gets issued together (auto-pipelined)
 * otherwise, against raw MGET and 100 pipelined GETs.
 */
export const getMany: Scenario = {
  id: 'get-many',
  title: 'getMany of 100 keys through Redis',
  async run(ctx): Promise<ScenarioResult> {
    const setup = await preload(ctx)
    const contenders = batchContenders(setup)
    ctx.progress(`get-many: ${contenders.length} contenders × ${ctx.budget.rounds} rounds`)
    const results = await compareLoad(contenders, {
      baseline: BASELINE,
      concurrency: 1,
      durationMs: ctx.budget.loadMs,
      rounds: ctx.budget.rounds,
      onResult: (name, round, ops) => ctx.progress(`  round ${round + 1} ${name}: ${count(ops)} batches/s`),
    })
    const findings: string[] = []
    const tcMany = results.find((r) => r.name === 'tiercache getMany')
    const tcSingles = results.find((r) => r.name.startsWith('tiercache ') && r.name.includes('× get'))
    if (tcMany && tcSingles) {
      findings.push(
        `tiercache getMany = ${ratio(tcMany.ratio)} raw MGET and ${ratio(tcMany.ratio / tcSingles.ratio)} its own ${BATCH} single gets`,
      )
    }
    findings.push(...hitRunWarnings(setup))
    for (const { adapter } of setup.adapters) await adapter.close()
    setup.raw.disconnect()
    return {
      id: this.id,
      title: this.title,
      method:
        `${KEYS} keys of 1 KB objects in Redis, read in batches of ${BATCH} (one batch in flight, L1 off), ` +
        `${ctx.budget.loadMs} ms per contender per round. Batch calls: tiercache \`getMany\` (one script call), ` +
        'cache-manager `mget`, cacheable `getMany`; bentocache and async-cache-dedupe have none, so only their ' +
        `${BATCH} concurrent single gets run. ioredis clients auto-pipeline. Configurations: ` +
        setup.adapters.map(({ adapter }) => `${adapter.name}: ${adapter.config}`).join('; ') +
        '.',
      tables: [table(results)],
      charts: [
        {
          file: 'get-many.svg',
          title: `${BATCH} keys from Redis: throughput relative to ${BASELINE}`,
          unit: `× ${BASELINE} batches/s (higher is better)`,
          bars: results.map((r) => ({ label: r.name, value: r.ratio, baseline: r.name === BASELINE })),
        },
      ],
      findings,
    }
  },
}

type Setup = Awaited<ReturnType<typeof preload>>

/** Every library on Redis (auto-pipelining, L1 off) and the raw keys, holding the same values. */
async function preload(ctx: ScenarioContext) {
  const keys = keyNames('gm:', KEYS)
  const loaders = new Map<string, ReturnType<typeof countingLoader>>()
  const options = (library: Library): AdapterOptions => {
    const counted = countingLoader((key) => makeValue(keyIndex(key)))
    loaders.set(library, counted)
    return {
      tiers: 'redis',
      redis: { host: ctx.redis.host, port: ctx.redis.port, prefix: `${ctx.redis.prefix}gm:`, autoPipelining: true },
      namespace: library.replace(/\W/g, ''),
      lruSize: 0,
      ttlMs: 3_600_000,
      loader: counted.loader,
    }
  }
  const { adapters, skipped } = await buildAll(PEERS, options)
  ctx.progress(`get-many: preloading ${KEYS} keys into ${adapters.length} libraries`)
  for (const adapter of adapters) await Promise.all(keys.map((k) => adapter.get(k)))
  const raw = new Redis({ host: ctx.redis.host, port: ctx.redis.port, enableAutoPipelining: true })
  const rawKey = (k: string) => `${ctx.redis.prefix}gm:raw:${k}`
  await raw.mset(keys.flatMap((k) => [rawKey(k), JSON.stringify(makeValue(keyIndex(k)))]))
  const loadsBefore = new Map([...loaders].map(([name, l]) => [name, l.calls()]))
  const labelled = adapters.map((adapter) => ({ label: adapter.name, adapter }))
  return { keys, raw, rawKey, loaders, loadsBefore, skipped, adapters: labelled }
}

/** Raw MGET, raw single GETs, and each library's batch call (where it has one) and single gets. */
function batchContenders({ keys, raw, rawKey, adapters }: Setup): LoadContender[] {
  const batches = Array.from({ length: KEYS / BATCH }, (_, b) => keys.slice(b * BATCH, (b + 1) * BATCH))
  const rawBatches = batches.map((batch) => batch.map(rawKey))
  let b = 0
  const nextBatch = (): number => {
    b = (b + 1) % batches.length
    return b
  }
  const contenders: LoadContender[] = [
    {
      name: BASELINE,
      op: async () => (await raw.mget(rawBatches[nextBatch()]!)).map((s) => JSON.parse(s!)),
    },
    {
      name: `ioredis ${BATCH} × GET + JSON.parse (autopipelined)`,
      op: () => Promise.all(rawBatches[nextBatch()]!.map(async (k) => JSON.parse((await raw.get(k))!))),
    },
  ]
  for (const { adapter: a } of adapters) {
    const getMany = a.getMany
    if (getMany) contenders.push({ name: `${a.name} getMany`, op: () => getMany(batches[nextBatch()]!) })
    contenders.push({
      name: `${a.name} ${BATCH} × get (autopipelined)`,
      op: () => Promise.all(batches[nextBatch()]!.map((k) => a.get(k))),
    })
  }
  return contenders
}

function table(results: readonly LoadResult[]): Table {
  return {
    title: `${BATCH} keys per call, 1 call in flight`,
    columns: ['contender', 'batches/s', `× ${BASELINE}`, 'p50', 'p99', 'CPU/batch', 'rounds spread'],
    rows: results.map((r) => [
      r.name,
      count(r.opsPerSec),
      ratio(r.ratio),
      `${(r.p50us / 1000).toFixed(2)} ms`,
      `${(r.p99us / 1000).toFixed(2)} ms`,
      `${(r.cpuUsPerOp / 1000).toFixed(2)} ms`,
      plusMinus(r.spread),
    ]),
  }
}
