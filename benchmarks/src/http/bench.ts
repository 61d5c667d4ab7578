/**
 * tiercache-proxy against nginx `proxy_cache` and the node:http ceiling, on
 * loopback, bounded in time (~2.5 min; `--quick` a few seconds):
 * - hot hits: req/s, p50/p99, server CPU per request;
 * - an expiry under load: p99 in the second after each expiry, origin requests per expiry;
 * - a cluster of 3 nginx vs 3 tiercache-proxy on one Redis, round robin, the
 *   origin's version changing: how long the old version is served, how many
 *   versions clients see at once, origin requests per change.
 * Writes `<out>/http.md` and `<out>/http-expiry.svg` (default docs/benchmarks).
 *
 *   pnpm bench:http                      # the full run
 *   pnpm bench:http --quick --no-nginx --out /tmp/x
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { loadAverage, machineInfo } from '../harness/machine.js'
import { latencySvg } from './latency-svg.js'
import { hasNginx, nginxVersion } from './processes.js'
import { renderReport } from './report.js'
import { type BenchConfig, clusterScenario, expiryScenario, hotHitScenario } from './scenarios.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'no-nginx': { type: 'boolean', default: false },
    out: { type: 'string', default: new URL('../../../docs/benchmarks', import.meta.url).pathname },
    'port-base': { type: 'string', default: '19100' },
    'redis-port': { type: 'string', default: '7091' },
    /** Comma-separated scenarios to run (hot, expiry, cluster); all by default. */
    only: { type: 'string', default: 'hot,expiry,cluster' },
  },
})
const nginx = !values['no-nginx'] && hasNginx()
if (!values['no-nginx'] && !nginx)
  process.stderr.write('nginx is not installed: running without it (apt-get install -y nginx)\n')

const config: BenchConfig = {
  quick: values.quick === true,
  nginx,
  portBase: Number(values['port-base']),
  redisPort: Number(values['redis-port']),
  hot: values.quick
    ? { rounds: 1, seconds: 1, warmSeconds: 0, connections: 10 }
    : { rounds: 5, seconds: 5, warmSeconds: 1, connections: 50 },
  expiry: values.quick
    ? { seconds: 2, connections: 10, ttl: '1s', ttlMs: 1000, latencyMs: 100 }
    : { seconds: 12, connections: 50, ttl: '2s', ttlMs: 2000, latencyMs: 100 },
  cluster: values.quick
    ? { seconds: 4, versionMs: 1500, ttl: '1s', ttlMs: 1000, latencyMs: 20, loops: 6, pauseMs: 5 }
    : { seconds: 25, versionMs: 5000, ttl: '2s', ttlMs: 2000, latencyMs: 20, loops: 24, pauseMs: 5 },
}

const machine = machineInfo()
const started = Date.now()
log(`load average at start: ${machine.loadAtStart.join(' ')}`)
const only = new Set(values.only!.split(','))
const hot = only.has('hot') ? await hotHitScenario(config, log) : []
const expiry = only.has('expiry')
  ? await expiryScenario(config, log)
  : { rows: [], series: [], range: [0, 1] as [number, number] }
const cluster = only.has('cluster') ? await clusterScenario(config, log) : []
const loadAtEnd = loadAverage()
log(`load average at end: ${loadAtEnd.join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s`)

mkdirSync(values.out!, { recursive: true })
writeFileSync(
  `${values.out}/http-expiry.svg`,
  latencySvg(
    'p99 latency around an expiry (origin latency ' + config.expiry.latencyMs + ' ms)',
    expiry.series,
    expiry.range,
  ),
)
writeFileSync(
  `${values.out}/http.md`,
  renderReport({
    config,
    machine,
    loadAtEnd,
    nginx: nginx ? nginxVersion() : undefined,
    hot,
    expiry,
    cluster,
    seconds: (Date.now() - started) / 1000,
  }),
)
log(`wrote ${values.out}/http.md and http-expiry.svg`)

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}
