import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'

/** Where the benchmarks' Redis runs. */
export interface RedisEndpoint {
  readonly host: string
  readonly port: number
  /** Prefix of every key the benchmarks write, so a shared server is never trampled. */
  readonly prefix: string
  /** True when the benchmarks started this server themselves (and stop it at the end). */
  readonly own: boolean
  /** `redis-server --version`, for the report. */
  readonly version: string
  stop(): Promise<void>
}

/** The benchmarks' own port range (see .tmp/TEAM.md). */
const PORTS = { first: 7300, last: 7399 }

/**
 * Starts a private redis-server on the first free port of 7300-7399 (less
 * noise from other agents' traffic than the shared 6379), without persistence.
 * Falls back to 127.0.0.1:6379 when no redis-server binary is installed;
 * `REDIS_PORT` forces a port.
 */
export async function startRedis(): Promise<RedisEndpoint> {
  const prefix = `tcbench:${process.pid}:`
  const forced = process.env.REDIS_PORT ? Number(process.env.REDIS_PORT) : undefined
  const binary = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (forced !== undefined || binary.status !== 0) {
    const port = forced ?? 6379
    return { host: '127.0.0.1', port, prefix, own: false, version: await serverVersion(port), stop: async () => {} }
  }
  for (let port = PORTS.first; port <= PORTS.last; port++) {
    if (await answers(port)) continue
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      { stdio: 'ignore' },
    )
    if (await started(child, port)) {
      return {
        host: '127.0.0.1',
        port,
        prefix,
        own: true,
        version: await serverVersion(port),
        stop: () => stopChild(child),
      }
    }
  }
  throw new Error(`no free port for redis-server in ${PORTS.first}-${PORTS.last}`)
}

async function answers(port: number): Promise<boolean> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
    return true
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

async function started(child: ChildProcess, port: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) return false
    if (await answers(port)) return true
    await sleep(50)
  }
  child.kill('SIGKILL')
  return false
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await Promise.race([exited, sleep(2000)])
  if (child.exitCode === null) child.kill('SIGKILL')
}

async function serverVersion(port: number): Promise<string> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await client.connect()
    const info = await client.info('server')
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
  } finally {
    client.disconnect()
  }
}
