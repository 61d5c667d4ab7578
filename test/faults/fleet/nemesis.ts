/**
 * The nemesis: faults done to the suite's own redis-server and node processes.
 * Each fault is bounded in time and heals itself before it resolves.
 */
import { type RedisServer, redisCli } from '../../helpers/redis-servers.js'
import type { FleetNode } from './fleet.js'

/** What a fault may act on. */
export interface Target {
  readonly server: RedisServer
  readonly nodes: readonly FleetNode[]
}

/** One fault: runs, heals, resolves. */
export type Fault = (target: Target) => Promise<void>

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const cli = (target: Target, ...args: string[]) => redisCli(target.server.port, ...args)

/** Stop process `pid` (SIGSTOP) for `ms`, then continue it, whatever happens meanwhile. */
async function stopFor(pid: number, ms: number): Promise<void> {
  process.kill(pid, 'SIGSTOP')
  try {
    await sleep(ms)
  } finally {
    process.kill(pid, 'SIGCONT')
  }
}

/** Redis frozen (SIGSTOP) for `ms`, then continued: connections stay open, replies wait. */
export const freezeRedis =
  (ms: number): Fault =>
  ({ server }) =>
    stopFor(server.pid, ms)

/** Redis crashes (SIGKILL), stays down `ms`, restarts empty (no persistence). */
export const crashRedis =
  (ms: number): Fault =>
  async ({ server }) => {
    await server.kill('SIGKILL')
    await sleep(ms)
    await server.restart()
  }

/** Every client connection of `type` killed, `times` times, `everyMs` apart. */
export const killClients =
  (type: 'normal' | 'pubsub', times: number, everyMs: number): Fault =>
  async (target) => {
    for (let i = 0; i < times; i++) {
      await cli(target, 'CLIENT', 'KILL', 'TYPE', type)
      await sleep(everyMs)
    }
  }

/** Redis busy in one command (`DEBUG SLEEP`) for `ms`. */
export const debugSleep =
  (ms: number): Fault =>
  async (target) => {
    await cli(target, 'DEBUG', 'SLEEP', String(ms / 1000))
  }

/** Every client paused (`CLIENT PAUSE ms ALL`). */
export const pauseClients =
  (ms: number): Fault =>
  async (target) => {
    await cli(target, 'CLIENT', 'PAUSE', String(ms), 'ALL')
    await sleep(ms)
  }

/**
 * Memory pressure under `allkeys-lru`: maxmemory just above what is used, the
 * clients' connections killed once (they reconnect and find the policy), and
 * a filler writing junk so Redis evicts (the cache's values, locks and
 * namespace generations among them) for `ms`.
 */
export const evictUnderPressure =
  (ms: number): Fault =>
  async (target) => {
    const info = await cli(target, 'INFO', 'memory')
    const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0)
    await cli(target, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru')
    await cli(target, 'CONFIG', 'SET', 'maxmemory', String(used + 512 * 1024))
    // The stores check the policy when a connection becomes ready: make them reconnect, as a
    // deploy that changes the policy would, so each must warn (the scenario checks it).
    await cli(target, 'CLIENT', 'KILL', 'TYPE', 'normal')
    const until = Date.now() + ms
    let i = 0
    try {
      while (Date.now() < until) {
        const args = ['MSET']
        for (let j = 0; j < 50; j++) args.push(`junk:${i++}`, 'x'.repeat(1024))
        await cli(target, ...args).catch(() => {})
        await sleep(20)
      }
    } finally {
      await cli(target, 'CONFIG', 'SET', 'maxmemory', '0')
      await cli(target, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
      const stats = await cli(target, 'INFO', 'stats')
      console.log(`allkeys-lru fault: evicted_keys ${/evicted_keys:(\d+)/.exec(stats)?.[1]} so far on this server`)
    }
  }

/** Node `index` stopped (SIGSTOP) for `ms`: its timers, sockets and bus all wait. */
export const pauseNode =
  (index: number, ms: number): Fault =>
  ({ nodes }) =>
    stopFor(nodes[index]!.pid, ms)

/** Node `index` blocks its own event loop for `ms` (a long synchronous task). */
export const blockNode =
  (index: number, ms: number): Fault =>
  async ({ nodes }) => {
    const node = nodes[index]!
    const blocked = node.next('blocked')
    node.send({ type: 'block', ms })
    await blocked
  }

/** Node `index` blocks its event loop for `ms` right after its next `set` resolves (before it publishes). */
export const blockWriterAfterSet =
  (index: number, ms: number): Fault =>
  async ({ nodes }) => {
    const node = nodes[index]!
    const blocked = node.next('blocked')
    node.send({ type: 'block-after-set', ms })
    await Promise.race([blocked, sleep(ms + 5_000)])
  }

/**
 * Every other node reads `key` (so their L1 holds it), then node `index` sets
 * it and dies (SIGKILL) right after the set resolves, before its bus can
 * publish the set. Not restarted.
 */
export const killWriterAfterSet =
  (index: number, key: string): Fault =>
  async ({ nodes }) => {
    const others = nodes.filter((_, i) => i !== index)
    await Promise.all(
      others.map((node) => {
        const done = node.next('read-done')
        node.send({ type: 'read', key })
        return done
      }),
    )
    const node = nodes[index]!
    const gone = new Promise<void>((resolve) => node.child.once('exit', () => resolve()))
    node.send({ type: 'set-and-die', key })
    await Promise.race([gone, sleep(5_000)])
  }
