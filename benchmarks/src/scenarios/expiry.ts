import { AsyncLocalStorage } from 'node:async_hooks'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AdapterOptions } from '../contenders/adapter.js'
import { factoryOf, type Library } from '../contenders/registry.js'
import { makeValue } from '../data/value.js'
import { millis } from '../harness/format.js'
import type { Scenario, ScenarioResult } from '../harness/scenario.js'
import { median, quantile } from '../harness/stats.js'

const TTL_MS = 500
const STALE_MS = 10_000
const LOADER_MS = 200
const WINDOW_MS = 100
/** Requests fired per timer tick (about 1 ms), without waiting for answers: an open loop. */
const PER_TICK = 2

interface Run {
  readonly label: string
  readonly library: Library
  readonly stale: boolean
}

const RUNS: readonly Run[] = [
  { label: 'tiercache (staleTtl)', library: 'tiercache', stale: true },
  { label: 'tiercache (staleTtl 0: waits)', library: 'tiercache', stale: false },
  { label: 'bentocache (grace, timeout 0)', library: 'bentocache', stale: true },
  { label: 'cache-manager (refreshThreshold)', library: 'cache-manager', stale: true },
  { label: 'cacheable (no stale feature)', library: 'cacheable', stale: false },
  { label: 'async-cache-dedupe (stale)', library: 'async-cache-dedupe', stale: true },
  { label: 'lru-cache fetch (allowStale)', library: 'lru-cache fetch', stale: true },
]

/** What one library did around its key's expiry. */
interface Outcome {
  readonly firstMs: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly requests: number
  readonly refreshes: number
}

/**
 * Scenario 5: a key expires under steady load (about 2 requests per ms, open
 * loop) while its loader takes 200 ms. "First request" is the one that
 * triggered the reload (the loader runs inside its async context, found with
 * AsyncLocalStorage); the p99 covers every request started in the 100 ms
 * from that moment. Each library's stale feature is on.
 */
export const expiry: Scenario = {
  id: 'expiry',
  title: 'Expiry under load',
  async run(ctx): Promise<ScenarioResult> {
    const rounds = ctx.budget.eventRounds
    const rows: string[][] = []
    const findings: string[] = []
    for (const run of RUNS) {
      const outcomes = await measureRun(rounds, run)
      if (typeof outcomes === 'string') {
        findings.push(`skipped ${run.label}: ${outcomes}`)
        continue
      }
      const first = median(outcomes.map((o) => o.firstMs))
      const p99 = median(outcomes.map((o) => o.p99Ms))
      ctx.progress(`expiry ${run.label}: first ${millis(first)}, p99 ${millis(p99)}`)
      rows.push([
        run.label,
        millis(first),
        millis(p99),
        millis(median(outcomes.map((o) => o.maxMs))),
        String(Math.round(median(outcomes.map((o) => o.requests)))),
        outcomes.map((o) => o.refreshes).join(' / '),
      ])
      if (run.label === 'tiercache (staleTtl)') {
        findings.push(
          `${first < 1 ? 'MET' : 'MISSED'}: tiercache first request after expiry answered in ${millis(first)} (target < 1 ms, from stale)`,
        )
      }
    }
    return {
      id: this.id,
      title: this.title,
      method:
        `In-process caches, TTL ${TTL_MS} ms (async-cache-dedupe: 1 s, it counts whole seconds), stale window ` +
        `${STALE_MS / 1000} s, loader ${LOADER_MS} ms. After the first fill, ${PER_TICK} requests per timer tick ` +
        `(~1 ms) are fired without waiting for answers until ${WINDOW_MS} ms after the reload started. ` +
        'cache-manager has no stale window: its `refreshThreshold` (here TTL/2) reloads in the background ahead ' +
        'of expiry; cacheable has no such feature at all. Medians of the rounds.',
      tables: [
        {
          title: `Requests around the expiry of one key (${rounds} rounds)`,
          columns: [
            'library',
            'first request',
            `p99 of the next ${WINDOW_MS} ms`,
            'max',
            'requests in window',
            'reloads',
          ],
          rows,
        },
      ],
      charts: [],
      findings,
    }
  },
}

/** Every round of one library; the reason as a string when it could not run. */
async function measureRun(rounds: number, run: Run): Promise<Outcome[] | string> {
  const outcomes: Outcome[] = []
  for (let round = 0; round < rounds; round++) {
    const outcome = await once(run, `ex${process.pid}r${round}`).catch((error: unknown) =>
      error instanceof Error ? error.message : String(error),
    )
    if (typeof outcome === 'string') return outcome
    outcomes.push(outcome)
  }
  return outcomes
}

/** The loads a library made: when each started, and which request's async context it ran in. */
type Loads = { at: number; request: number | undefined }[]

async function once(run: Run, namespace: string): Promise<Outcome> {
  const factory = await factoryOf(run.library)
  if (typeof factory === 'string') throw new Error(factory)
  const context = new AsyncLocalStorage<number>()
  const loads: Loads = []
  const options: AdapterOptions = {
    tiers: 'memory',
    namespace,
    lruSize: 1000,
    ttlMs: TTL_MS,
    ...(run.stale ? { staleMs: STALE_MS } : {}),
    loader: async (key) => {
      loads.push({ at: performance.now(), request: context.getStore() })
      await sleep(LOADER_MS)
      return { key, ...makeValue(1) }
    },
  }
  const adapter = await factory(options)
  const key = `expiring:${namespace}`
  await adapter.get(key)
  const { starts, ends } = await fireUntilReloaded(() => adapter.get(key), context, loads)
  await sleep(LOADER_MS + 50)
  await adapter.close()
  const reload = loads[1]
  if (reload === undefined || reload.request === undefined) {
    throw new Error(`no reload seen within ${TTL_MS + 3000} ms (loads: ${loads.length})`)
  }
  const latency = (r: number) => (ends[r] ?? Number.POSITIVE_INFINITY) - starts[r]!
  const window: number[] = []
  for (let r = 0; r < starts.length; r++) {
    if (starts[r]! >= starts[reload.request]! && starts[r]! < reload.at + WINDOW_MS) window.push(latency(r))
  }
  return {
    firstMs: latency(reload.request),
    p99Ms: quantile(window, 0.99),
    maxMs: Math.max(...window),
    requests: window.length,
    refreshes: loads.length - 1,
  }
}

/**
 * The open loop: `PER_TICK` gets per timer tick, each in the async context of
 * its request number, until `WINDOW_MS` after the reload's loader settled (or a
 * deadline). When each request started and ended (NaN: it failed).
 */
async function fireUntilReloaded(get: () => Promise<unknown>, context: AsyncLocalStorage<number>, loads: Loads) {
  const starts: number[] = []
  const ends: number[] = []
  const deadline = performance.now() + TTL_MS + 3000
  let id = 0
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now()
      const reload = loads[1]
      if ((reload !== undefined && now > reload.at + LOADER_MS + WINDOW_MS) || now > deadline) {
        clearInterval(timer)
        resolve()
        return
      }
      for (let i = 0; i < PER_TICK; i++) {
        const request = id++
        starts[request] = performance.now()
        context.run(request, get).then(
          () => {
            ends[request] = performance.now()
          },
          () => {
            ends[request] = Number.NaN
          },
        )
      }
    }, 1)
  })
  return { starts, ends }
}
