import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

/** One server the benchmark started, stopped by its pid. */
export interface Running {
  readonly name: string
  readonly port: number
  /** Every pid whose CPU counts for this server (nginx: its master and workers). */
  pids(): number[]
  stop(): Promise<void>
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))
const proxyBin = fileURLToPath(new URL('../../../packages/proxy/dist/bin.js', import.meta.url))

/** Start a .ts child script under tsx with `env`, resolved once it reports ready. */
async function forkScript(name: string, script: string, port: number, env: Record<string, string>): Promise<Running> {
  const child = fork(here(script), [], {
    env: { ...process.env, ...env },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve())
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)))
  })
  return running(name, port, child)
}

function running(name: string, port: number, child: ChildProcess): Running {
  return {
    name,
    port,
    pids: () => [child.pid!],
    stop: () => stopChild(child),
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** The test origin (see servers/test-origin.ts). */
export function startOrigin(port: number, opts: { latencyMs: number; versionMs: number }): Promise<Running> {
  return forkScript('origin', 'servers/test-origin.ts', port, {
    ORIGIN_PORT: String(port),
    ORIGIN_LATENCY_MS: String(opts.latencyMs),
    ORIGIN_VERSION_MS: String(opts.versionMs),
  })
}

/** The bare node:http server answering from a Map. */
export function startMapServer(port: number, originPort: number): Promise<Running> {
  return forkScript('node:http + Map', 'servers/map-server.ts', port, {
    MAP_PORT: String(port),
    ORIGIN_PORT: String(originPort),
  })
}

/** `cacheHttp` from the library, in-memory store. */
export function startCacheHttp(
  port: number,
  originPort: number,
  ttl: { ttlMs: number; staleMs: number },
): Promise<Running> {
  return forkScript('cacheHttp (library)', 'servers/cache-http-server.ts', port, {
    CACHE_PORT: String(port),
    ORIGIN_PORT: String(originPort),
    TTL_MS: String(ttl.ttlMs),
    STALE_MS: String(ttl.staleMs),
  })
}

/** `tiercache-proxy` from packages/proxy/dist, access log off (as nginx's is here). */
export async function startProxy(
  name: string,
  port: number,
  opts: { originPort: number; ttl: string; stale: string; redis?: string },
): Promise<Running> {
  const args = [proxyBin, '--origin', `http://127.0.0.1:${opts.originPort}`, '--port', String(port)]
  args.push('--ttl', opts.ttl, '--stale', opts.stale, '--access-log', 'off')
  if (opts.redis !== undefined) args.push('--redis', opts.redis)
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] })
  await waitForPort(port, child)
  return running(name, port, child)
}

/** Whether Debian's nginx is installed. */
export function hasNginx(): boolean {
  return spawnSync('nginx', ['-v'], { encoding: 'utf8' }).status === 0
}

/** `nginx -v`, for the report. */
export function nginxVersion(): string {
  return spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: ', '')
}

/**
 * nginx with `proxy_cache` in front of the origin, one worker (node answers on
 * one thread too), config and cache in a temp dir, in the foreground so its
 * pid is ours to stop. `proxy_cache_use_stale updating` + `background_update`
 * + `lock` is nginx's stale-while-revalidate with single flight.
 */
export async function startNginx(
  name: string,
  port: number,
  opts: { originPort: number; ttl: string },
): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'tiercache-bench-nginx-'))
  const user = process.getuid?.() === 0 ? 'user root root;' : ''
  writeFileSync(
    join(dir, 'nginx.conf'),
    `${user}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=bench:10m inactive=10m use_temp_path=off;
  upstream origin { server 127.0.0.1:${opts.originPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_valid 200 ${opts.ttl};
      proxy_cache_use_stale updating error timeout;
      proxy_cache_background_update on;
      proxy_cache_lock on;
      add_header X-Cache $upstream_cache_status;
    }
  }
}
`,
  )
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  await waitForPort(port, child)
  return {
    name,
    port,
    pids: () => [child.pid!, ...childrenOf(child.pid!)],
    stop: async () => {
      await stopChild(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A private redis-server for the cluster scenario. */
export async function startRedisServer(port: number): Promise<Running> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  )
  await waitForPort(port, child)
  return running('redis', port, child)
}

/** Pids whose parent is `pid` (nginx's workers). */
function childrenOf(pid: number): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return found
}

/** utime + stime of `pids` in ms (from /proc/<pid>/stat, in clock ticks of 10 ms). */
export function cpuMs(pids: readonly number[]): number {
  let ticks = 0
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Fields 14 and 15 of stat(5), counted from the state field (3rd) here.
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return ticks * 10
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const { connect } = await import('node:net')
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`process for port ${port} exited with ${child.exitCode}`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await sleep(50)
  }
  throw new Error(`nothing listens on ${port} after 10 s`)
}
