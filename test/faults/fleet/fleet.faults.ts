// Three node processes (TierCache + RedisStore + RedisPubSubIpc each) run
// get/set/delete/purge on a few keys while the nemesis hurts their Redis or one
// of them; the checker then holds the history to guarantees (1)-(4).
// Results: test/faults/results/fleet[-smoke].md (table for docs/reliability.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../helpers/redis-servers.js'
import { buildPackages, type FleetNode, Recorder, startFleet, stopFleet } from './fleet.js'
import {
  blockNode,
  blockWriterAfterSet,
  crashRedis,
  debugSleep,
  evictUnderPressure,
  freezeRedis,
  killClients,
  killWriterAfterSet,
  pauseClients,
  pauseNode,
} from './nemesis.js'
import type { Workload } from './protocol.js'
import { writeResults } from './report.js'
import { runScenario, type Scenario, type ScenarioResult } from './scenario.js'

const SMOKE = process.env.FAULTS_SMOKE === '1'
/** This suite's redis-server (7060-7079 are the faults suite's ports). */
const PORT = 7060
const MAX_STALENESS_MS = 500
/** The nodes' caches use the defaults: lockWait 5 s + lockLease 10 s (guarantee 4's bound on a call). */
const MAX_CALL_MS = 5_000 + 10_000

const scenarios: Scenario[] = [
  { name: 'no fault', fault: 'none (baseline)', smoke: true },
  { name: 'redis SIGSTOP 2 s', fault: 'SIGSTOP redis-server, SIGCONT after 2 s', run: freezeRedis(2_000), smoke: true },
  {
    name: 'redis SIGKILL + restart',
    fault: 'SIGKILL redis-server, restart (empty) after 1 s',
    run: crashRedis(1_000),
    smoke: false,
  },
  {
    name: 'CLIENT KILL TYPE normal',
    fault: 'CLIENT KILL TYPE normal, 3 times 500 ms apart',
    run: killClients('normal', 3, 500),
    smoke: false,
  },
  {
    name: 'CLIENT KILL TYPE pubsub',
    fault: 'CLIENT KILL TYPE pubsub, 3 times 500 ms apart',
    run: killClients('pubsub', 3, 500),
    smoke: true,
  },
  { name: 'DEBUG SLEEP 1.5 s', fault: 'DEBUG SLEEP 1.5', run: debugSleep(1_500), smoke: false },
  { name: 'CLIENT PAUSE 1.5 s', fault: 'CLIENT PAUSE 1500 ALL', run: pauseClients(1_500), smoke: false },
  {
    name: 'maxmemory allkeys-lru',
    fault: 'maxmemory = used + 512 KB, allkeys-lru, clients killed once (they reconnect), junk writes for 3 s',
    run: evictUnderPressure(3_000),
    smoke: false,
    warns: 'TIERCACHE_REDIS_EVICTING',
  },
  { name: 'node SIGSTOP 2 s', fault: 'SIGSTOP node B, SIGCONT after 2 s', run: pauseNode(1, 2_000), smoke: true },
  { name: 'node event loop blocked 2 s', fault: 'node B busy-loops 2 s', run: blockNode(1, 2_000), smoke: false },
  {
    name: 'writer blocked after set 2 s',
    fault: 'node A busy-loops 2 s right after a set resolves',
    run: blockWriterAfterSet(0, 2_000),
    smoke: true,
  },
  // Last: the killed node is not restarted.
  {
    name: 'writer killed after set',
    fault: 'A and B read k1; C sets k1 and is SIGKILLed as soon as the set resolves',
    run: killWriterAfterSet(2, 'k1'),
    smoke: false,
    // C may die holding a key's lock (its workload loads too): A and B then wait lockWait (5 s), and each loads.
    orphanedLocksMs: 5_000,
  },
]

const workload = (name: string): Workload => ({
  namespace: `faults-${name.replace(/[^a-z0-9]+/gi, '-')}-${Date.now()}`,
  keys: ['k0', 'k1', 'k2', 'k3'],
  ttl: 1_500,
  staleTtl: 1_500,
  loaderMs: 15,
  concurrency: 3,
  thinkMs: 20,
  mix: { get: 70, set: 18, delete: 8, purge: 0.5 },
})

describe('a fleet of three nodes under faults', () => {
  let server: RedisServer
  let nodes: FleetNode[] = []
  const recorder = new Recorder()
  const results: ScenarioResult[] = []

  beforeAll(async () => {
    buildPackages()
    server = await startRedisServer(PORT, ['--enable-debug-command', 'yes'])
    nodes = await startFleet(
      ['A', 'B', 'C'],
      { url: server.url, prefix: 'faults:', channel: 'faults', maxStalenessMs: MAX_STALENESS_MS },
      recorder,
    )
  }, 120_000)

  afterAll(async () => {
    await stopFleet(nodes)
    await server?.stop()
    if (results.length > 0) console.log(writeResults(SMOKE ? 'fleet-smoke' : 'fleet', results))
  })

  for (const scenario of scenarios.filter((s) => !SMOKE || s.smoke)) {
    it(`keeps guarantees (1)-(4): ${scenario.name}`, async () => {
      const result = await runScenario(scenario, { server, nodes }, recorder, workload(scenario.name), {
        warmMs: 1_500,
        recoverMs: 3_000,
        settleMs: 1_000,
        maxStalenessMs: MAX_STALENESS_MS,
        maxCallMs: MAX_CALL_MS,
      })
      results.push(result)
      const { violations, figures } = result.verdict
      const shown = violations
        .slice(0, 5)
        .map((v) => `${v.guarantee}: ${v.detail}`)
        .join('\n')
      expect(violations, `${violations.length} violations, e.g.\n${shown}`).toHaveLength(0)
      expect(figures.worstStalenessMs).toBeLessThanOrEqual(figures.boundMs)
      if (scenario.warns !== undefined) {
        // Every node's store found the policy when it reconnected, and said so.
        const warned = new Set(recorder.warnings.filter((w) => w.code === scenario.warns).map((w) => w.node))
        expect([...warned].sort()).toEqual(nodes.map((node) => node.name))
      }
    })
  }
})
