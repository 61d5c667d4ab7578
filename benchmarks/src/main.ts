/**
 * `pnpm bench [--full] [--only=l1-hit,l2-hit,...] [--report]`: runs the
 * scenarios and prints each table as it is done (progress on stderr). With
 * `--report` (and every scenario), it then writes docs/benchmarks/README.md
 * and the SVG charts beside it; without, the committed report stays as it is
 * (a quick run must not replace a full one).
 */

import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { jsonBytes } from './data/value.js'
import { loadAverage, machineInfo, versions } from './harness/machine.js'
import { startRedis } from './harness/redis-server.js'
import { writeReport } from './harness/report.js'
import { BUDGETS, type Scenario, type ScenarioResult } from './harness/scenario.js'
import { textTable } from './harness/table.js'
import { SCENARIOS } from './scenarios/index.js'

const PACKAGES = [
  '@tiercache/core',
  '@tiercache/redis',
  'bentocache',
  'cache-manager',
  'keyv',
  '@keyv/redis',
  'cacheable',
  'async-cache-dedupe',
  'lru-cache',
  'ioredis',
  'msgpackr',
  'mitata',
]

const args = process.argv.slice(2)
const full = args.includes('--full')
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
const writeDocs = args.includes('--report')
const budget = BUDGETS[full ? 'full' : 'quick']
const selected: Scenario[] = only ? SCENARIOS.filter((s) => only.includes(s.id)) : [...SCENARIOS]
if (only && selected.length !== only.length) {
  const known = SCENARIOS.map((s) => s.id).join(', ')
  console.error(`unknown scenario in --only=${only.join(',')}; known: ${known}`)
  process.exit(2)
}
if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
  console.error('warning: run with node --expose-gc (pnpm bench does) so GC runs between measurements')
}

const started = performance.now()
const machine = machineInfo()
const redis = await startRedis()
const progress = (line: string): void => {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`)
}
progress(
  `${budget.mode} mode, ${selected.length} scenarios; Redis ${redis.version} on ${redis.host}:${redis.port}` +
    `${redis.own ? ' (own server)' : ' (shared server, prefix ' + redis.prefix + ')'}; load ${machine.loadAtStart.join(' ')}`,
)

const results: ScenarioResult[] = []
try {
  for (const scenario of selected) {
    progress(`▶ ${scenario.title}`)
    const result = await scenario.run({ budget, redis, progress })
    results.push(result)
    console.log(`\n■ ${result.title}`)
    for (const table of result.tables) console.log(`\n${textTable(table)}`)
    if (result.findings.length > 0) console.log(`\n${result.findings.map((f) => `  • ${f}`).join('\n')}`)
  }
} finally {
  await redis.stop()
}

const durationS = (performance.now() - started) / 1000
if (writeDocs && only === undefined) {
  const dir = fileURLToPath(new URL('../../docs/benchmarks/', import.meta.url))
  writeReport(dir, {
    command: `pnpm bench${full ? ' --full' : ''} --report`,
    mode: budget.mode,
    machine,
    loadAtEnd: loadAverage(),
    durationS,
    redis: {
      version: redis.version,
      where: redis.own ? 'own redis-server on 127.0.0.1, no persistence' : 'shared server',
    },
    versions: versions(PACKAGES),
    valueBytes: jsonBytes(),
    results,
  })
  progress(`report written to docs/benchmarks/README.md`)
} else if (writeDocs) {
  progress('--only: report not written (it must hold every scenario of one run)')
} else {
  progress('report not written (add --report to replace docs/benchmarks/README.md)')
}
progress(`done in ${durationS.toFixed(0)} s`)
