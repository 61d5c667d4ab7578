import { setTimeout as sleep } from 'node:timers/promises'
import { median, quantile } from '../harness/stats.js'
import type { Series } from './latency-svg.js'
import { cannon, getItem, p99Between, roundRobin, type Seen } from './load.js'
import {
  cpuMs,
  type Running,
  startCacheHttp,
  startMapServer,
  startNginx,
  startOrigin,
  startProxy,
  startRedisServer,
} from './processes.js'

/** What one run measures and for how long. */
export interface BenchConfig {
  readonly quick: boolean
  readonly nginx: boolean
  readonly portBase: number
  readonly redisPort: number
  /** `warmSeconds` of load before each measured run, not measured. */
  readonly hot: { rounds: number; seconds: number; warmSeconds: number; connections: number }
  readonly expiry: { seconds: number; connections: number; ttl: string; ttlMs: number; latencyMs: number }
  readonly cluster: {
    seconds: number
    versionMs: number
    ttl: string
    ttlMs: number
    latencyMs: number
    loops: number
    pauseMs: number
  }
}

type Log = (line: string) => void
/** Starts one server in front of the origin on `port`. */
type Start = (port: number, originPort: number) => Promise<Running>

/** The node:http ceiling every other server is compared with. */
export const MAP_SERVER = 'node:http + Map'

/** A stale window as long as nginx's `inactive=10m`: both serve stale for as long as they hold the entry. */
const STALE = { text: '10m', ms: 600_000 }

function contenders(config: BenchConfig, ttl: { text: string; ms: number }): { name: string; start: Start }[] {
  const list: { name: string; start: Start }[] = [
    { name: MAP_SERVER, start: (port, origin) => startMapServer(port, origin) },
    {
      name: 'cacheHttp (library)',
      start: (port, origin) => startCacheHttp(port, origin, { ttlMs: ttl.ms, staleMs: STALE.ms }),
    },
    {
      name: 'tiercache-proxy',
      start: (port, origin) =>
        startProxy('tiercache-proxy', port, { originPort: origin, ttl: ttl.text, stale: STALE.text }),
    },
  ]
  if (config.nginx) {
    list.push({
      name: 'nginx proxy_cache',
      start: (port, origin) => startNginx('nginx', port, { originPort: origin, ttl: ttl.text }),
    })
  }
  return list
}

// ---- hot hits ---------------------------------------------------------------

/** One server's hot-hit figures, medians over rounds. */
export interface HotRow {
  readonly name: string
  readonly reqPerSec: number
  readonly p50: number
  readonly p99: number
  readonly cpuUsPerRequest: number
  /**
   * Against the Map server run in the same round, median over rounds: each
   * round's servers run back to back under one background load, so their
   * ratio moves less than either figure.
   */
  readonly reqPerSecVsMap: number
  readonly cpuVsMap: number
  /** The req/s ratio of every round, in order. */
  readonly reqPerSecVsMapRounds: readonly number[]
  readonly errors: number
}

/**
 * Every server answering one cached URL under autocannon. Each round runs
 * every server once, in an order rotated from the last round's (so none is
 * always first after a quiet pause); each server is warmed for a second of
 * load (its JIT's work) before the measured run.
 */
export async function hotHitScenario(config: BenchConfig, log: Log): Promise<HotRow[]> {
  const origin = await startOrigin(config.portBase, { latencyMs: 0, versionMs: 0 })
  const runs = new Map<string, { rps: number[]; p50: number[]; p99: number[]; cpu: number[]; errors: number }>()
  const list = contenders(config, { text: '60s', ms: 60_000 })
  try {
    for (let round = 0; round < config.hot.rounds; round++) {
      for (let k = 0; k < list.length; k++) {
        const i = (round + k) % list.length
        const contender = list[i]!
        const server = await contender.start(config.portBase + 1 + i, origin.port)
        try {
          const url = `http://127.0.0.1:${server.port}/item`
          await fetch(url).then((r) => r.arrayBuffer())
          await fetch(url).then((r) => r.arrayBuffer())
          if (config.hot.warmSeconds > 0) {
            await cannon(url, { connections: config.hot.connections, seconds: config.hot.warmSeconds })
          }
          const cpuBefore = cpuMs(server.pids())
          const run = await cannon(url, { connections: config.hot.connections, seconds: config.hot.seconds })
          const cpu = cpuMs(server.pids()) - cpuBefore
          const row = runs.get(contender.name) ?? { rps: [], p50: [], p99: [], cpu: [], errors: 0 }
          row.rps[round] = run.reqPerSec
          row.p50[round] = run.p50
          row.p99[round] = run.p99
          row.cpu[round] = (cpu * 1000) / run.requests
          row.errors += run.non2xx
          runs.set(contender.name, row)
          log(
            `hot ${contender.name} round ${round + 1}: ${Math.round(run.reqPerSec)} req/s p99 ${run.p99} ms, ${((cpu * 1000) / run.requests).toFixed(1)} µs CPU/req`,
          )
        } finally {
          await server.stop()
        }
      }
    }
  } finally {
    await origin.stop()
  }
  const map = runs.get(MAP_SERVER)
  const perRound = (of: readonly number[], base: readonly number[] | undefined) =>
    of.map((value, round) => value / (base?.[round] ?? Number.NaN))
  return [...runs].map(([name, r]) => {
    const rpsRatios = perRound(r.rps, map?.rps)
    return {
      name,
      reqPerSec: median(r.rps),
      p50: median(r.p50),
      p99: median(r.p99),
      cpuUsPerRequest: median(r.cpu),
      reqPerSecVsMap: median(rpsRatios),
      cpuVsMap: median(perRound(r.cpu, map?.cpu)),
      reqPerSecVsMapRounds: rpsRatios,
      errors: r.errors,
    }
  })
}

// ---- an expiry under load ---------------------------------------------------

/** One server's behaviour around expiries. */
export interface ExpiryRow {
  readonly name: string
  readonly expiries: number
  readonly originRequests: number
  /** Worst and median p99 of the second after each expiry, and p99 over the whole run, ms. */
  readonly p99AfterWorst: number
  readonly p99AfterMedian: number
  readonly p99Overall: number
}

/** Each cache under autocannon while its one URL expires every TTL; the origin answers in `latencyMs`. */
export async function expiryScenario(
  config: BenchConfig,
  log: Log,
): Promise<{ rows: ExpiryRow[]; series: Series[]; range: [number, number] }> {
  const rows: ExpiryRow[] = []
  const series: Series[] = []
  const colors: Record<string, string> = {
    'tiercache-proxy': '#2e9d5b',
    'nginx proxy_cache': '#4a7bd0',
    'cacheHttp (library)': '#e08a1e',
  }
  const ttl = { text: config.expiry.ttl, ms: config.expiry.ttlMs }
  for (const [i, contender] of contenders(config, ttl).entries()) {
    if (contender.name === MAP_SERVER) continue
    // A fresh origin per server, so its request log is this server's alone.
    const origin = await startOrigin(config.portBase + 10, { latencyMs: config.expiry.latencyMs, versionMs: 0 })
    const server = await contender.start(config.portBase + 11 + i, origin.port)
    try {
      const url = `http://127.0.0.1:${server.port}/item`
      await fetch(url).then((r) => r.arrayBuffer())
      const from = Date.now()
      const run = await cannon(url, {
        connections: config.expiry.connections,
        seconds: config.expiry.seconds,
        timeline: true,
      })
      const stats = (await (await fetch(`http://127.0.0.1:${origin.port}/__stats`)).json()) as { requests: number[] }
      const refreshes = groups(stats.requests.filter((at) => at >= from))
      const after = refreshes.map((at) => p99Between(run.timeline, at, at + 1000)).filter((p) => p !== undefined)
      rows.push({
        name: contender.name,
        expiries: refreshes.length,
        originRequests: stats.requests.filter((at) => at >= from).length,
        p99AfterWorst: Math.max(...after),
        p99AfterMedian: median(after),
        p99Overall: run.p99,
      })
      const around = refreshes[Math.min(1, refreshes.length - 1)]
      if (around !== undefined)
        series.push({
          label: contender.name,
          color: colors[contender.name] ?? '#888',
          points: buckets(run.timeline, around),
        })
      log(
        `expiry ${contender.name}: ${refreshes.length} expiries, ${rows.at(-1)!.originRequests} origin requests, p99 after expiry ≤ ${Math.max(...after)} ms`,
      )
    } finally {
      await server.stop()
      await origin.stop()
    }
  }
  return { rows, series, range: [-1000, 2000] }
}

/** Origin request times grouped into refreshes: requests less than 500 ms apart are one refresh. */
function groups(times: readonly number[]): number[] {
  const starts: number[] = []
  let last = -Infinity
  for (const at of [...times].sort((a, b) => a - b)) {
    if (at - last >= 500) starts.push(at)
    last = at
  }
  return starts
}

/** p99 latency per 50 ms bucket from 1 s before to 2 s after `at`. */
function buckets(timeline: readonly (readonly [number, number])[], at: number): [number, number][] {
  const points: [number, number][] = []
  for (let t = -1000; t < 2000; t += 50) {
    const p99 = p99Between(timeline, at + t, at + t + 50)
    if (p99 !== undefined) points.push([t + 25, p99])
  }
  return points
}

// ---- a cluster while the origin changes -------------------------------------

/** One cluster's coherence while the origin's version changes. */
export interface ClusterRow {
  readonly name: string
  readonly changes: number
  readonly responses: number
  /** After a change, how long responses still carried an older version (median and worst over changes), ms. */
  readonly oldServedMedian: number
  readonly oldServedWorst: number
  /** How long, per change, clients got both versions (first new to last old), median ms. */
  readonly mixedMedian: number
  /** Most distinct versions served within one 100 ms window. */
  readonly versionsAtOnce: number
  /** Share of 100 ms windows in which clients got more than one version. */
  readonly mixedShare: number
  readonly originRequests: number
  readonly originRequestsPerChange: number
  readonly p99: number
}

/** 3 nginx nodes vs 3 tiercache-proxy nodes on one Redis, round robin, the origin's version stepping. */
export async function clusterScenario(config: BenchConfig, log: Log): Promise<ClusterRow[]> {
  const c = config.cluster
  const rows: ClusterRow[] = []
  const redis = await startRedisServer(config.redisPort)
  try {
    const clusters: { name: string; start: (port: number, origin: number, i: number) => Promise<Running> }[] = [
      {
        name: '3 × tiercache-proxy + Redis',
        start: (port, origin, i) =>
          startProxy(`proxy-${i}`, port, {
            originPort: origin,
            ttl: c.ttl,
            stale: STALE.text,
            redis: `redis://127.0.0.1:${redis.port}`,
          }),
      },
    ]
    if (config.nginx)
      clusters.push({
        name: '3 × nginx proxy_cache',
        start: (port, origin, i) => startNginx(`nginx-${i}`, port, { originPort: origin, ttl: c.ttl }),
      })
    for (const [k, cluster] of clusters.entries()) {
      const origin = await startOrigin(config.portBase + 20, { latencyMs: c.latencyMs, versionMs: c.versionMs })
      const nodes: Running[] = []
      try {
        for (let i = 0; i < 3; i++) nodes.push(await cluster.start(config.portBase + 21 + k * 3 + i, origin.port, i))
        // Nodes that joined a third of a TTL apart (restarts and evictions do that): each nginx then
        // expires on its own phase, as in production; the proxies share one entry whatever their phase.
        for (const node of nodes) {
          await getItem(node.port)
          await sleep(c.ttlMs / 3)
        }
        const seen = await roundRobin(
          nodes.map((n) => n.port),
          { loops: c.loops, seconds: c.seconds, pauseMs: c.pauseMs },
        )
        const stats = (await (await fetch(`http://127.0.0.1:${origin.port}/__stats`)).json()) as {
          started: number
          count: number
        }
        rows.push(coherence(cluster.name, seen, stats.started, stats.count, c.versionMs))
        log(`cluster ${cluster.name}: ${JSON.stringify(rows.at(-1))}`)
      } finally {
        for (const node of nodes) await node.stop()
        await origin.stop()
      }
      await sleep(200)
    }
  } finally {
    await redis.stop()
  }
  return rows
}

function coherence(
  name: string,
  seen: readonly Seen[],
  started: number,
  originRequests: number,
  versionMs: number,
): ClusterRow {
  const first = seen[0]!.at
  const last = seen.at(-1)!.at
  const old: number[] = []
  const mixed: number[] = []
  let changes = 0
  for (let v = 2; started + (v - 1) * versionMs < last - versionMs / 2; v++) {
    const changedAt = started + (v - 1) * versionMs
    if (changedAt < first) continue
    changes++
    const lastOld = Math.max(changedAt, ...seen.filter((s) => s.version < v && s.at >= changedAt).map((s) => s.at))
    old.push(lastOld - changedAt)
    const firstNew = Math.min(...seen.filter((s) => s.version >= v).map((s) => s.at))
    mixed.push(Math.max(0, lastOld - firstNew))
  }
  const windows = new Map<number, Set<number>>()
  for (const s of seen) {
    const w = Math.floor(s.at / 100)
    const set = windows.get(w) ?? new Set<number>()
    set.add(s.version)
    windows.set(w, set)
  }
  return {
    name,
    changes,
    responses: seen.length,
    oldServedMedian: median(old),
    oldServedWorst: Math.max(...old),
    mixedMedian: median(mixed),
    versionsAtOnce: Math.max(...[...windows.values()].map((set) => set.size)),
    mixedShare: [...windows.values()].filter((set) => set.size > 1).length / windows.size,
    originRequests,
    originRequestsPerChange: originRequests / Math.max(1, changes),
    p99: quantile(
      seen.map((s) => s.ms),
      0.99,
    ),
  }
}
