/**
 * Three processes, each a `cacheHttp` server on one Redis (RedisStore + Redis
 * pub/sub IPC), in front of one origin in this process that counts requests.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { get, sleep } from '../../packages/http/test/servers.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const workerFile = fileURLToPath(new URL('./fixtures/http-worker.ts', import.meta.url))
const PROCESSES = 3
const TTL = 1_000

/** Requests that reached the origin, per path. */
const originHits = new Map<string, number>()
const originState = { delay: 0, version: 1 }
let origin: Server
let originUrl: string
const workers: { child: ChildProcess; url: string }[] = []

function originHandler(req: IncomingMessage, res: ServerResponse) {
  const path = req.url ?? '/'
  originHits.set(path, (originHits.get(path) ?? 0) + 1)
  const version = originState.version
  setTimeout(() => {
    res.setHeader('content-type', 'text/plain')
    if (path.startsWith('/tagged')) res.setHeader('cache-tag', 'group-a')
    res.end(`${path} v${version}`)
  }, originState.delay)
}

function startWorker(config: object): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(workerFile, [JSON.stringify(config)], {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)))
    child.on('message', (message: { type: string; port?: number }) => {
      if (message.type === 'ready') resolve({ child, url: `http://127.0.0.1:${message.port}` })
    })
  })
}

function ask(child: ChildProcess, message: object, answer: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (reply: { type: string }) => {
      if (reply.type !== answer) return
      child.off('message', on)
      resolve()
    }
    child.on('message', on)
    child.send(message)
  })
}

beforeAll(async () => {
  // The children import dist/, as a deployed application would.
  execFileSync(`${root}node_modules/.bin/tsc`, ['-b', 'packages/http', 'packages/redis', 'packages/ipc'], {
    cwd: root,
    stdio: 'inherit',
  })
  origin = createServer(originHandler)
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
  const run = randomBytes(4).toString('hex')
  const config = {
    redisUrl: 'redis://127.0.0.1:6379',
    prefix: `tiercache-http-test:${run}:`,
    channel: `tiercache-http-test:${run}`,
    name: 'pages',
    ttl: TTL,
    staleTtl: 60_000,
    originUrl,
  }
  workers.push(...(await Promise.all(Array.from({ length: PROCESSES }, () => startWorker(config)))))
})

afterAll(async () => {
  if (workers[0] !== undefined) await ask(workers[0].child, { type: 'cleanup' }, 'cleaned')
  await Promise.all(
    workers.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve()
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
          child.once('exit', () => {
            clearTimeout(timer)
            resolve()
          })
          child.send({ type: 'exit' })
        }),
    ),
  )
  origin.closeAllConnections()
  await new Promise<void>((resolve) => origin.close(() => resolve()))
})

/**
 * `perProcess` concurrent requests for `path` to every process at once, with
 * one `Host` as a load balancer in front of them would pass (the port differs
 * per process, and the host is part of the key).
 */
function everywhere(path: string, perProcess: number) {
  const headers = { host: 'shop.example' }
  return Promise.all(
    workers.flatMap(({ url }) => Array.from({ length: perProcess }, () => get(`${url}${path}`, { headers }))),
  )
}

describe('cluster: processes sharing Redis', () => {
  it('a cold URL requested 100 times on each of 3 processes at once reaches the origin once', async () => {
    originState.delay = 300
    const answers = await everywhere('/cold', 100)
    expect(originHits.get('/cold')).toBe(1)
    expect(answers.every((a) => a.status === 200 && a.body === '/cold v1')).toBe(true)
    expect(answers.filter((a) => a.headers['x-cache'] === 'MISS')).toHaveLength(1)
  })

  it('after expiry every process answers stale at once, and exactly one refresh reaches the origin', async () => {
    originState.delay = 0
    await everywhere('/page', 1)
    expect(originHits.get('/page')).toBe(1)
    await sleep(TTL + 200)
    originState.version = 2
    originState.delay = 1_000 // the refresh takes 1 s

    const stale = await everywhere('/page', 50)
    expect(stale.every((a) => a.body === '/page v1' && a.headers['x-cache'] === 'UPDATING')).toBe(true)
    const slowest = Math.max(...stale.map((a) => a.ms))
    expect(slowest).toBeLessThan(700) // well under the origin's 1 000 ms, on a loaded 2-core machine

    await sleep(1_300)
    expect(originHits.get('/page')).toBe(2) // the fill, then one refresh for the whole cluster
    const fresh = await everywhere('/page', 1)
    expect(fresh.map((a) => a.body)).toEqual(Array(PROCESSES).fill('/page v2'))
    expect(originHits.get('/page')).toBe(2)
    originState.version = 1
  })

  it('a tag purge on one process is seen by every process at its next request', async () => {
    originState.delay = 0
    await everywhere('/tagged', 1)
    expect((await everywhere('/tagged', 1)).every((a) => a.headers['x-cache'] === 'HIT')).toBe(true)
    originState.version = 3
    await ask(workers[1]!.child, { type: 'purgeTag', tag: 'group-a' }, 'purged')
    // The new tag version is in Redis at once; other processes drop their L1 copy of it when the
    // pub/sub message arrives, a few ms later. Poll every process until none serves the purged response.
    const purgedAt = performance.now()
    let after = await everywhere('/tagged', 1)
    while (after.some((a) => a.body !== '/tagged v3') && performance.now() - purgedAt < 1_000) {
      await sleep(5)
      after = await everywhere('/tagged', 1)
    }
    const visibleMs = performance.now() - purgedAt
    expect(after.map((a) => a.body)).toEqual(Array(PROCESSES).fill('/tagged v3'))
    expect(visibleMs).toBeLessThan(500)
    // One refetch, or a few when processes drop the purged entry at the same moment.
    expect(originHits.get('/tagged')).toBeGreaterThanOrEqual(2)
    expect(originHits.get('/tagged')).toBeLessThanOrEqual(1 + PROCESSES)
    originState.version = 1
  })
})
