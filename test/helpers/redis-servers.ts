/**
 * Start and stop throw-away redis-server processes for tests: single servers
 * and Redis Clusters of masters, on loopback ports of the 7000-7199 range, each
 * with its own temporary directory, no persistence, stopped by pid.
 *
 * @example
 * const server = await startRedisServer(7010)
 * afterAll(() => server.stop())
 *
 * const cluster = await startRedisCluster([7001, 7002, 7003])
 * const client = new Cluster(cluster.nodes)
 * afterAll(() => cluster.stop())
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as connectTls } from 'node:tls'
import { promisify } from 'node:util'

const run = promisify(execFile)
const HOST = '127.0.0.1'

/** One redis-server process. */
export interface RedisServer {
  readonly host: string
  readonly port: number
  /** The pid of the running process; changes on `restart`. */
  readonly pid: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** Kill the process with `signal` (default SIGKILL: a crash) and wait until it is gone. Keeps the directory. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Start it again on the same port and directory (after `kill`). */
  restart(): Promise<void>
  /** Stop the process by pid and remove its directory. */
  stop(): Promise<void>
}

/** A Redis Cluster of masters, one server per port. */
export interface RedisClusterHandle {
  readonly servers: readonly RedisServer[]
  /** Startup nodes for `new Cluster(nodes)`. */
  readonly nodes: readonly { host: string; port: number }[]
  /** Stop every server. */
  stop(): Promise<void>
}

/** How to reach a server that only speaks TLS (`--port 0 --tls-port <port>`). */
export interface TlsFiles {
  /** PEM of the CA that signed the server certificate. */
  readonly ca: string
}

/**
 * Start `redis-server` on `port` and wait until it answers PING. A server left
 * on the port by an earlier crashed run (the port range is ours) is shut down first.
 * `extraArgs` go to redis-server as they are (e.g. `--requirepass`); with `tls`,
 * the port is a TLS port and `extraArgs` must carry the `--tls-*` files.
 */
export async function startRedisServer(
  port: number,
  extraArgs: readonly string[] = [],
  tls?: TlsFiles,
): Promise<RedisServer> {
  checkPort(port)
  if (tls === undefined) await shutDownLeftover(port)
  const dir = mkdtempSync(join(tmpdir(), `tiercache-redis-${port}-`))
  const args = [
    ...(tls === undefined ? ['--port', String(port)] : ['--port', '0', '--tls-port', String(port)]),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--logfile',
    join(dir, 'redis.log'),
    ...extraArgs,
  ]
  let child = await launch(args, port, tls)
  const server: RedisServer = {
    host: HOST,
    port,
    get pid() {
      return child.pid!
    },
    url: `redis://${HOST}:${port}`,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      await stopProcess(child, signal)
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null)
        throw new Error(`redis-server on ${port} is still running`)
      child = await launch(args, port, tls)
    },
    async stop() {
      await stopProcess(child, 'SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}

/**
 * Start one cluster-enabled server per port, join them with
 * `redis-cli --cluster create ... --cluster-replicas 0`, and wait until every
 * node reports `cluster_state:ok`.
 */
export async function startRedisCluster(ports: readonly number[]): Promise<RedisClusterHandle> {
  const servers: RedisServer[] = []
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()))
  }
  try {
    for (const port of ports) {
      servers.push(
        await startRedisServer(port, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
        ]),
      )
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `${HOST}:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ])
    await waitFor(
      async () => {
        const states = await Promise.all(ports.map((port) => redisCli(port, 'cluster', 'info')))
        return states.every((info) => info.includes('cluster_state:ok'))
      },
      30_000,
      `cluster on ${ports.join(',')} to reach cluster_state:ok`,
    )
  } catch (error) {
    await stop()
    throw error
  }
  return { servers, nodes: ports.map((port) => ({ host: HOST, port })), stop }
}

/** Run redis-cli against a local port; resolves to its output. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', HOST, '-p', String(port), ...args])
  return stdout
}

async function launch(args: readonly string[], port: number, tls?: TlsFiles): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: 'ignore' })
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code) => reject(new Error(`redis-server on ${port} exited with ${code}`)))
    child.once('error', reject)
  })
  exited.catch(() => {})
  // A TLS server answers PING only after a handshake; the password, if any, makes it answer NOAUTH, which is enough.
  await Promise.race([waitFor(() => ping(port, tls), 10_000, `redis-server on ${port} to answer PING`), exited])
  return child
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await gone
  clearTimeout(timer)
}

async function shutDownLeftover(port: number): Promise<void> {
  if (!(await ping(port))) return
  await redisCli(port, 'shutdown', 'nosave').catch(() => {})
  await waitFor(async () => !(await ping(port)), 5_000, `leftover server on ${port} to stop`)
}

function ping(port: number, tls?: TlsFiles): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls === undefined ? connect({ host: HOST, port }) : connectTls({ host: HOST, port, ca: tls.ca })
    const done = (answer: boolean) => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(500, () => done(false))
    socket.once('error', () => done(false))
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())))
  })
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 7000 || port > 7199) {
    throw new RangeError(`port must be in this project's redis range 7000-7199, got ${port}`)
  }
}
