import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Cluster, Redis, type RedisOptions } from 'ioredis'

// Test files outside this package (test/ipc) import ioredis through here: the
// workspace root has no ioredis of its own.
export { Cluster, Redis, type RedisOptions }

const run = promisify(execFile)

/** Ports this package's tests may use (TEAM.md: the ipc range). */
const PORT_RANGE = { first: 7100, last: 7199 } as const

/** A redis-server started for one test file, on 127.0.0.1, without persistence. */
export interface RedisServer {
  readonly port: number
  readonly pid: number
  /** A new client on this server; `quit()` it yourself. */
  client(options?: RedisOptions): Redis
  stop(): Promise<void>
}

/** Start a private redis-server so tests may CLIENT KILL and CLIENT PAUSE without touching anyone else's clients. */
export async function startRedisServer(extraArgs: readonly string[] = []): Promise<RedisServer> {
  const port = await freePort()
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs],
    { stdio: 'ignore' },
  )
  await waitForPing(port, child)
  return {
    port,
    pid: child.pid!,
    client: (options) => new Redis({ port, host: '127.0.0.1', lazyConnect: false, ...options }),
    stop: () => stopChild(child),
  }
}

/** A three-master Redis Cluster on ports of the ipc range (bus ports too). */
export interface RedisCluster {
  readonly ports: readonly number[]
  /** A new cluster client; `quit()` it yourself. */
  client(options?: ConstructorParameters<typeof Cluster>[1]): Cluster
  stop(): Promise<void>
}

/** Start a 3-master cluster (no replicas) and wait until every slot is served. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'tiercache-ipc-cluster-'))
  const children: ChildProcess[] = []
  const ports: number[] = []
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort(ports)
      const busPort = await freePort([...ports, port])
      ports.push(port, busPort)
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--cluster-port',
          String(busPort),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      )
      children.push(child)
      await waitForPing(port, child)
    }
    const masters = ports.filter((_, i) => i % 2 === 0)
    await run('redis-cli', ['--cluster', 'create', ...masters.map((p) => `127.0.0.1:${p}`), '--cluster-yes'])
    for (const port of masters) await waitForClusterOk(port)
    return {
      ports: masters,
      client: (options) =>
        new Cluster(
          masters.map((port) => ({ host: '127.0.0.1', port })),
          options,
        ),
      stop: async () => {
        await Promise.all(children.map(stopChild))
        await rm(dir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    await Promise.all(children.map(stopChild))
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}

async function freePort(taken: readonly number[] = []): Promise<number> {
  for (let port = PORT_RANGE.first; port <= PORT_RANGE.last; port++) {
    if (taken.includes(port)) continue
    if (await canListen(port)) return port
  }
  throw new Error(`no free port in ${PORT_RANGE.first}-${PORT_RANGE.last}`)
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

async function waitForPing(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`)
    try {
      const { stdout } = await run('redis-cli', ['-p', String(port), 'ping'])
      if (stdout.trim() === 'PONG') return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s`)
}

async function waitForClusterOk(port: number): Promise<void> {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info'])
    if (stdout.includes('cluster_state:ok')) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`cluster node ${port} not ok within 20 s`)
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}
