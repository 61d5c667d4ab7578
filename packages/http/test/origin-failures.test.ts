/**
 * Every way an origin can fail ends in a 502/504 or a stale answer, with
 * nothing cached and the process alive. The caches and their failing origins
 * run in a child process (fixtures/failing-origins.ts, on the built packages),
 * so a failure that escapes as an uncaught exception kills that child, not the
 * test runner, and the next assertion says so.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { type Got, get } from './servers.js'

const fixture = fileURLToPath(new URL('./fixtures/failing-origins.ts', import.meta.url))
let child: ChildProcess | undefined
/** Why the child ended, once it has: the head of its stderr (an uncaught exception's stack). */
let exited: string | undefined
const urls = { node: '', express: '', fastify: '', fetch: '' }

/** Start the child; again after a case killed it, so one crash fails one test, not every later one. */
async function startChild(): Promise<void> {
  exited = undefined
  const started = fork(fixture, [], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  })
  child = started
  let stderr = ''
  started.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  started.once('exit', (code, signal) => {
    exited = `the process exited (${code ?? signal}): ${stderr.trim().split('\n').slice(0, 8).join('\n')}`
  })
  const ports = await new Promise<Record<keyof typeof urls, number>>((resolve, reject) => {
    started.once('exit', () => reject(new Error(exited)))
    started.on('message', (message: { type: string; ports: Record<keyof typeof urls, number> }) => {
      if (message.type === 'ready') resolve(message.ports)
    })
  })
  for (const name of Object.keys(urls) as (keyof typeof urls)[]) urls[name] = `http://127.0.0.1:${ports[name]}`
}

/** Resolves once the child has exited, or after `ms` if it has not. */
function exitOf(running: ChildProcess, ms: number): Promise<void> {
  if (running.exitCode !== null || running.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    running.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

beforeEach(async () => {
  if (child !== undefined && exited === undefined) {
    const serving = await get(`${urls.node}/_calls?path=/`).then(
      () => true,
      () => false,
    )
    if (serving) return
    child.kill('SIGKILL')
    await exitOf(child, 5_000)
  }
  await startChild()
})

/** GET through the child; when the child is gone, fail with how it ended (an uncaught exception's stack). */
async function ask(url: string): Promise<Got> {
  try {
    return await get(url)
  } catch (error) {
    if (child !== undefined) await exitOf(child, 1_000)
    throw new Error(exited ?? `the child did not answer: ${(error as Error).message}`)
  }
}

afterAll(() => {
  child?.kill()
})

/** The child is still serving, and no uncaught exception has ended it. */
async function expectAlive(url: string): Promise<void> {
  expect((await ask(`${url}/_calls?path=/`)).status).toBe(200)
  expect(exited).toBeUndefined()
}

async function originCalls(url: string, path: string): Promise<number> {
  return Number((await ask(`${url}/_calls?path=${encodeURIComponent(path)}`)).body)
}

/** Two requests for `path` on a cache with nothing stored: each gets `status`, each reaches the origin. */
async function failsUncached(url: string, path: string, status: 502 | 504): Promise<void> {
  for (const attempt of [1, 2]) {
    expect((await ask(`${url}${path}`)).status).toBe(status)
    expect(await originCalls(url, path)).toBe(attempt) // nothing was cached: the second one went to the origin too
  }
  await expectAlive(url)
}

/** `…/stale/<mode>`: cached, expired, then the origin fails that way: the stale page is served as STALE. */
async function servesStale(url: string, path: string): Promise<void> {
  expect((await ask(`${url}${path}`)).body).toBe('the good page')
  await ask(`${url}/_advance?ms=300`)
  const stale = await ask(`${url}${path}`)
  expect(stale).toMatchObject({ status: 200, body: 'the good page' })
  expect(stale.headers['x-cache']).toBe('STALE')
  expect(await originCalls(url, path)).toBe(2)
  await expectAlive(url)
}

describe('origin failure regressions (cacheHttp)', () => {
  it('a stream.pipeline whose source fails (res.destroy(err) mid-body) no longer kills the process: 502', async () => {
    await failsUncached(urls.node, '/pipeline-error', 502)
  })

  it('res.destroy(err) mid-body: 502, nothing cached, the process alive', async () => {
    await failsUncached(urls.node, '/destroy-error', 502)
  })

  it('res.destroy() without an error mid-body: 502', async () => {
    await failsUncached(urls.node, '/destroy', 502)
  })

  it('res.destroy(err) before the head: 502', async () => {
    await failsUncached(urls.node, '/destroy-before-head', 502)
  })

  it('the handler destroys its socket mid-body: 502', async () => {
    await failsUncached(urls.node, '/socket-destroy', 502)
  })

  it('the handler throws: 502', async () => {
    await failsUncached(urls.node, '/throw', 502)
  })

  it('the handler rejects: 502', async () => {
    await failsUncached(urls.node, '/reject', 502)
  })

  it('Content-Length 100 with 33 bytes sent is no longer cached and served as complete: 502', async () => {
    await failsUncached(urls.node, '/truncated', 502)
  })

  it('a body longer than its Content-Length: 502', async () => {
    await failsUncached(urls.node, '/overlong', 502)
  })

  it('no answer within originTimeout: 504', async () => {
    await failsUncached(urls.node, '/timeout', 504)
  })

  it('the head, then silence: 504 at originTimeout', async () => {
    await failsUncached(urls.node, '/silence', 504)
  })

  it.each(['pipeline-error', 'destroy', 'truncated', 'overlong', 'silence', 'throw'])(
    'with a stale entry, %s serves the stale page (STALE)',
    async (mode) => {
      await servesStale(urls.node, `/stale/${mode}`)
    },
  )
})

describe('origin failure regressions (cacheExpress)', () => {
  it('a stream.pipeline whose source fails no longer kills the process behind cacheExpress: 502', async () => {
    await failsUncached(urls.express, '/express/pipeline-error', 502)
  })

  it('a truncated body behind cacheExpress: 502', async () => {
    await failsUncached(urls.express, '/express/truncated', 502)
  })

  it('with a stale entry, a failed pipeline serves the stale page (STALE)', async () => {
    await servesStale(urls.express, '/express/stale/pipeline-error')
  })
})

describe('origin failure regressions (cacheFastify)', () => {
  it('a route sending a stream that fails mid-body: 502', async () => {
    await failsUncached(urls.fastify, '/fastify/stream-error', 502)
  })

  it('a route destroying its raw response with an error mid-body: 502', async () => {
    await failsUncached(urls.fastify, '/fastify/raw-destroy-error', 502)
  })

  it('a route declaring Content-Length 100 and sending 33 bytes: 502', async () => {
    await failsUncached(urls.fastify, '/fastify/truncated', 502)
  })

  it('with a stale entry, a stream failing mid-body serves the stale page (STALE)', async () => {
    await servesStale(urls.fastify, '/fastify/stale/stream-error')
  })
})

describe('origin failure regressions (cacheFetch towards an upstream)', () => {
  it('the upstream hangs up before answering: 502', async () => {
    await failsUncached(urls.fetch, '/hang-up', 502)
  })

  it('the upstream hangs up mid-body: 502', async () => {
    await failsUncached(urls.fetch, '/hang-up-mid-body', 502)
  })
})
