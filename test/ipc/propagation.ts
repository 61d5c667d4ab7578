// How long after one node sets a key does every node return the new version?
//
//   pnpm exec tsx test/ipc/propagation.ts            # 1000 updates, 10 ms apart
//   pnpm exec tsx test/ipc/propagation.ts --kill     # same, with the pub/sub connections killed mid-run
//   pnpm exec tsx test/ipc/propagation.ts --coalesce=0   # without the coalescing window
//
// Three processes share one Redis (a private redis-server on the ipc port
// range), each with its own L1: TierCache + RedisStore + RedisPubSubIpc. Node A
// sets the key to 1..count at a steady rate; nodes B and C read it every ~1 ms.
// For each version, the delay is from A starting the set to the later of B and
// C first returning it (or a newer one). Staleness is how long after a set
// finished a reader still returned the version before it.
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
// Relative, not @tiercache/ipc: this script runs without the tsconfig paths its children get.
import { IPC_DEFAULTS } from '../../packages/ipc/src/options.js'
import { Redis, startRedisServer } from '../../packages/ipc/test/redis-server.js'
import type { NodeConfig, NodeMessage, Segment } from './propagation-protocol.js'

/** What to run. */
export interface PropagationOptions {
  /** Versions node A writes. @default 1000 */
  count?: number
  /** ms between two writes. @default 10 */
  intervalMs?: number
  /** The bus's maxStalenessMs. @default 3000 */
  maxStalenessMs?: number
  /** The bus's coalesceMs. @default the bus default (2) */
  coalesceMs?: number
  /** Kill every pub/sub connection (CLIENT KILL TYPE pubsub) this many ms after the writes start. */
  killAtMs?: number
  /** How long a killed subscriber waits before reconnecting. @default 50 */
  subscriberRetryMs?: number
  /** SIGSTOP the first reader this many ms after the writes start, for `pauseMs`, then SIGCONT it. */
  pauseReaderAtMs?: number
  pauseMs?: number
  /** The writer blocks its event loop for `blockMs` right after the set of this version resolved. */
  blockWriterAfterVersion?: number
  blockMs?: number
}

/** Percentiles of the per-version propagation delay, in ms. */
export interface Figures {
  readonly count: number
  readonly intervalMs: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly mean: number
  /** Versions some reader never returned (skipped past is fine: a newer one counts). */
  readonly missing: number
  /** How long node A's `set` took (store write, then publish), p50 and p99, in ms: part of every delay. */
  readonly setP50: number
  readonly setP99: number
  /** Longest time after the next version was written that a read started which still returned a version, in ms. */
  readonly maxStaleness: number
  /** Bus events seen by the readers. */
  readonly readers: { disconnected: number; reconnected: number; gaps: number; errors: number }[]
  /** The delay of each version, in ms, by version - 1 (NaN when missing). Not printed. */
  readonly delays: number[]
}

const NODE = fileURLToPath(new URL('./propagation-node.ts', import.meta.url))
const TSCONFIG = fileURLToPath(new URL('./tsconfig.json', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Run the three nodes and measure. */
export async function measurePropagation(options: PropagationOptions = {}): Promise<Figures> {
  const count = options.count ?? 1000
  const intervalMs = options.intervalMs ?? 10
  const server = await startRedisServer()
  const admin = new Redis({ host: '127.0.0.1', port: server.port })
  const base = {
    port: server.port,
    namespace: 'propagation',
    key: 'version',
    count,
    intervalMs,
    maxStalenessMs: options.maxStalenessMs ?? 3000,
    coalesceMs: options.coalesceMs ?? IPC_DEFAULTS.coalesceMs,
    subscriberRetryMs: options.subscriberRetryMs ?? 50,
  }
  const writerOnly = { blockAfterVersion: options.blockWriterAfterVersion, blockMs: options.blockMs }
  const nodes = (['writer', 'reader', 'reader'] as const).map((role, i) =>
    startNode({ ...base, ...(role === 'writer' ? writerOnly : {}), role, name: `${'ABC'[i]}-${role}` }),
  )
  const [writer, ...readers] = nodes as [NodeHandle, NodeHandle, NodeHandle]
  let killTimer: NodeJS.Timeout | undefined
  let pauseTimer: NodeJS.Timeout | undefined
  let paused: Promise<void> | undefined
  try {
    await Promise.all(nodes.map((node) => node.next('ready')))
    const written = writer.next('written')
    const results = readers.map((reader) => reader.next('read'))
    writer.child.send({ type: 'start' })
    if (options.killAtMs !== undefined) {
      killTimer = setTimeout(() => void admin.client('KILL', 'TYPE', 'pubsub'), options.killAtMs)
    }
    if (options.pauseReaderAtMs !== undefined) {
      const reader = readers[0]
      paused = new Promise((resolve) => {
        pauseTimer = setTimeout(() => {
          reader.child.kill('SIGSTOP')
          pauseTimer = setTimeout(() => {
            reader.child.kill('SIGCONT')
            resolve()
          }, options.pauseMs ?? 2000)
        }, options.pauseReaderAtMs)
      })
    }
    const { sets } = await written
    await paused
    // Give the readers time to see the last version, then stop them.
    await new Promise((resolve) => setTimeout(resolve, Math.max(500, base.maxStalenessMs)))
    for (const reader of readers) reader.child.send({ type: 'stop' })
    const reads = await Promise.all(results)
    return figures(
      count,
      intervalMs,
      sets,
      reads.map((read) => read.segments),
      reads.map((read) => read.events),
    )
  } finally {
    clearTimeout(killTimer)
    clearTimeout(pauseTimer)
    for (const node of nodes) {
      node.child.kill('SIGCONT')
      node.child.kill()
    }
    admin.disconnect()
    await server.stop()
  }
}

interface NodeHandle {
  readonly child: ChildProcess
  next<T extends NodeMessage['type']>(type: T): Promise<Extract<NodeMessage, { type: T }>>
}

function startNode(config: NodeConfig): NodeHandle {
  const child = fork(NODE, [JSON.stringify(config)], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const received: NodeMessage[] = []
  const waiting = new Map<string, (message: NodeMessage) => void>()
  let exited: Error | undefined
  child.on('message', (message: NodeMessage) => {
    const wake = waiting.get(message.type)
    if (wake === undefined) received.push(message)
    else {
      waiting.delete(message.type)
      wake(message)
    }
  })
  const failures = new Set<(error: Error) => void>()
  child.on('exit', (code, signal) => {
    exited = new Error(`node ${config.name} exited (${code ?? signal}) before reporting`)
    for (const fail of failures) fail(exited)
  })
  return {
    child,
    next(type) {
      const early = received.findIndex((message) => message.type === type)
      if (early >= 0) return Promise.resolve(received.splice(early, 1)[0] as never)
      return new Promise((resolve, reject) => {
        if (exited !== undefined) return reject(exited)
        failures.add(reject)
        waiting.set(type, (message) => {
          failures.delete(reject)
          resolve(message as never)
        })
      })
    },
  }
}

function figures(
  count: number,
  intervalMs: number,
  sets: [version: number, startedAt: number, doneAt: number][],
  readers: Segment[][],
  events: Figures['readers'],
): Figures {
  const delays: number[] = []
  const byVersion: number[] = []
  let missing = 0
  for (const [version, startedAt] of sets) {
    let worst = 0
    for (const segments of readers) {
      const seen = segments.find(([v]) => v >= version)
      if (seen === undefined) {
        worst = Number.NaN
        break
      }
      worst = Math.max(worst, seen[1] - startedAt)
    }
    byVersion.push(worst)
    if (Number.isNaN(worst)) missing++
    else delays.push(worst)
  }
  const doneAt = new Map(sets.map(([version, , done]) => [version, done]))
  let maxStaleness = 0
  for (const segments of readers) {
    for (const [version, , lastAt] of segments) {
      const next = doneAt.get(version + 1)
      if (next !== undefined && lastAt > next) maxStaleness = Math.max(maxStaleness, lastAt - next)
    }
  }
  delays.sort((a, b) => a - b)
  const setMs = sets.map(([, startedAt, done]) => done - startedAt).sort((a, b) => a - b)
  return {
    count,
    intervalMs,
    p50: percentile(delays, 0.5),
    p99: percentile(delays, 0.99),
    max: percentile(delays, 1),
    mean: round(delays.reduce((sum, d) => sum + d, 0) / delays.length),
    missing,
    setP50: percentile(setMs, 0.5),
    setP99: percentile(setMs, 0.99),
    maxStaleness: round(maxStaleness),
    readers: events,
    delays: byVersion,
  }
}

/** The `q` quantile of ascending `sorted`, rounded to 0.01 ms. */
function percentile(sorted: readonly number[], q: number): number {
  return round(sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN)
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const kill = process.argv.includes('--kill')
  const coalesce = process.argv.find((arg) => arg.startsWith('--coalesce='))
  const result = await measurePropagation({
    ...(kill ? { killAtMs: 3000, maxStalenessMs: 500, subscriberRetryMs: 1500 } : {}),
    ...(coalesce === undefined ? {} : { coalesceMs: Number(coalesce.split('=')[1]) }),
  })
  const { delays: _, ...printed } = result
  console.log(JSON.stringify(printed, null, 2))
}
