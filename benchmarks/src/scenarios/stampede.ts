import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Library } from '../contenders/registry.js'
import { millis } from '../harness/format.js'
import type { Scenario, ScenarioContext, ScenarioResult } from '../harness/scenario.js'
import { median } from '../harness/stats.js'
import { PEERS } from './contenders.js'
import { epochMs, type StampedeCommand, type StampedeReply } from './stampede-worker.js'

const CALLS = 1000
const LOADER_MS = 50
const PROCESSES = [1, 4] as const

/**
 * Scenario 4: 1000 concurrent calls for one missing key (loader 50 ms), from
 * one process and from 4 processes (250 each) sharing Redis. Counts loader
 * calls across all processes and the time from the common start to the last
 * answer anywhere. Each library runs with L1 + its Redis tier (async-cache-dedupe:
 * Redis storage alone, it cannot stack two).
 */
export const stampede: Scenario = {
  id: 'stampede',
  title: 'Stampede: 1000 concurrent calls on one missing key',
  async run(ctx): Promise<ScenarioResult> {
    const rows: string[][] = []
    const findings: string[] = []
    const rounds = ctx.budget.eventRounds
    for (const processes of PROCESSES) {
      const workers = await Promise.all(Array.from({ length: processes }, () => startWorker()))
      try {
        for (const library of PEERS) {
          const outcome = await measureLibrary(ctx, { workers, library, processes })
          if (typeof outcome === 'string') {
            findings.push(`skipped ${library} with ${processes} process(es): ${outcome}`)
            continue
          }
          const { loads, times, errors, wrong } = outcome
          ctx.progress(`stampede ${processes} process(es) ${library}: loader calls ${loads.join(', ')}`)
          rows.push([
            library,
            String(processes),
            loads.join(' / '),
            millis(median(times)),
            errors + wrong === 0 ? 'all right' : `${errors} errors, ${wrong} wrong values`,
          ])
          if (library === 'tiercache') {
            const ok = loads.every((l) => l === 1)
            findings.push(
              `${ok ? 'MET' : 'MISSED'}: tiercache, ${processes} process(es): loader calls per round ${loads.join(', ')} (target exactly 1)`,
            )
          }
        }
      } finally {
        for (const w of workers) w.stop()
      }
    }
    return {
      id: this.id,
      title: this.title,
      method:
        `Each library with its L1 and its Redis tier (async-cache-dedupe: Redis storage only). All ${CALLS} calls ` +
        'are fired at one agreed wall-clock instant, from one worker process or split over 4 worker processes ' +
        `(250 each) that share the Redis; a fresh key per round. Loader: ${LOADER_MS} ms timer. ` +
        '"Time to last answer" runs from the common start to the last call settling in any process.',
      tables: [
        {
          title: `${CALLS} calls on one missing key, loader ${LOADER_MS} ms (${rounds} rounds)`,
          columns: ['library', 'processes', 'loader calls (per round)', 'time to last answer (median)', 'answers'],
          rows,
        },
      ],
      charts: [
        {
          file: 'stampede.svg',
          title: `Loader calls for ${CALLS} concurrent calls on one key (fewer is better)`,
          unit: 'loader calls, median of rounds (ideal: 1)',
          bars: rows.map((r) => ({ label: `${r[0]} (${r[1]} proc)`, value: median(r[2]!.split(' / ').map(Number)) })),
        },
      ],
      findings,
    }
  },
}

/** One library on a set of worker processes. */
interface Trial {
  readonly workers: readonly Worker[]
  readonly library: Library
  readonly processes: number
}

/** What the rounds of one library measured: loader calls and time to the last answer per round. */
interface Measured {
  loads: number[]
  times: number[]
  errors: number
  wrong: number
}

/** Every round of one library; the reason as a string when a worker could not build it. */
async function measureLibrary(ctx: ScenarioContext, trial: Trial): Promise<Measured | string> {
  const measured: Measured = { loads: [], times: [], errors: 0, wrong: 0 }
  for (let round = 0; round < ctx.budget.eventRounds; round++) {
    const failed = await oneRound(ctx, trial, round, measured)
    if (failed !== undefined) return failed
  }
  return measured
}

/** Prepares a fresh key in every worker, fires all calls at one instant, adds the outcome to `measured`. */
async function oneRound(ctx: ScenarioContext, trial: Trial, round: number, measured: Measured) {
  const { workers, library, processes } = trial
  const namespace = `st${process.pid}r${round}p${processes}${library.replace(/\W/g, '')}`
  const prepare: StampedeCommand = {
    type: 'prepare',
    library,
    loaderMs: LOADER_MS,
    options: {
      tiers: library === 'async-cache-dedupe' ? 'redis' : 'both',
      redis: { host: ctx.redis.host, port: ctx.redis.port, prefix: `${ctx.redis.prefix}st:` },
      namespace,
      lruSize: 1000,
      ttlMs: 60_000,
    },
  }
  const ready = await Promise.all(workers.map((w) => w.ask(prepare)))
  const bad = ready.find((r) => r.type === 'failed')
  if (bad && bad.type === 'failed') return bad.reason
  const at = epochMs() + 100
  const done = await Promise.all(
    workers.map((w) => w.ask({ type: 'go', key: `hot:${namespace}`, calls: CALLS / processes, at })),
  )
  let calls = 0
  let last = 0
  for (const d of done) {
    if (d.type !== 'done') continue
    calls += d.loaderCalls
    last = Math.max(last, d.lastAnswerAt)
    measured.errors += d.errors
    measured.wrong += d.wrong
  }
  measured.loads.push(calls)
  measured.times.push(last - at)
  return undefined
}

interface Worker {
  ask(command: StampedeCommand): Promise<StampedeReply>
  stop(): void
}

async function startWorker(): Promise<Worker> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./stampede-worker.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return {
    ask: (command) =>
      new Promise((resolve, reject) => {
        child.once('message', (m) => resolve(m as StampedeReply))
        child.once('exit', (code) => reject(new Error(`stampede worker exited with ${code}`)))
        child.send(command)
      }),
    stop: () => {
      child.send({ type: 'exit' } satisfies StampedeCommand)
    },
  }
}
