import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StoreError } from '@tiercache/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, redisCli, startRedisServer } from '../../../test/helpers/redis-servers.js'
import { RedisStore } from '../src/index.js'

const bytes = (...values: number[]) => Uint8Array.from(values)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Values, the lock and the release subscriber (a duplicated connection) all work through `open()`. */
async function exercise(open: () => RedisStore): Promise<void> {
  const a = open()
  const b = open()
  try {
    const n = `conn-${randomUUID()}`
    await a.set(n, 'k', { data: bytes(1, 2), freshMs: 10_000, keepMs: 10_000 })
    expect(Array.from((await b.get(n, 'k'))!.data!)).toEqual([1, 2])
    const token = await a.lock.acquire(n, 'k', 10_000)
    const started = performance.now()
    const waiting = b.lock.waitForRelease(n, 'k', 5_000)
    await sleep(100)
    await a.lock.release(n, 'k', token!)
    expect(await waiting).toBe(true)
    expect(performance.now() - started).toBeLessThan(450) // the message, not the 500 ms backoff
  } finally {
    await a.close()
    await b.close()
  }
}

describe('AUTH and database index through the url (own server on 127.0.0.1:7012)', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedisServer(7012, ['--requirepass', 's3cret'])
  })
  afterAll(() => server.stop())

  it('authenticates every connection, the subscriber included, and writes to the chosen database', async () => {
    await exercise(
      () => new RedisStore({ url: 'redis://:s3cret@127.0.0.1:7012/3', minRecheckMs: 500, maxRecheckMs: 500 }),
    )
    expect(Number(await redisCli(7012, '-a', 's3cret', '--no-auth-warning', '-n', '3', 'dbsize'))).toBeGreaterThan(0)
    expect(Number(await redisCli(7012, '-a', 's3cret', '--no-auth-warning', '-n', '0', 'dbsize'))).toBe(0)
  })

  it('a wrong password: calls reject with StoreError, never hang', async () => {
    const store = new RedisStore({ url: 'redis://:wrong@127.0.0.1:7012' })
    const errors: unknown[] = []
    store.on('error', (error) => errors.push(error))
    try {
      const started = performance.now()
      await expect(store.get('n', 'k')).rejects.toBeInstanceOf(StoreError)
      expect(performance.now() - started).toBeLessThan(1_000)
    } finally {
      await store.close()
    }
  })
})

describe('TLS through ioredis options (own TLS-only server on 127.0.0.1:7013)', () => {
  let server: RedisServer
  let dir: string
  let ca: string
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tiercache-tls-'))
    const file = (name: string) => join(dir, name)
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' })
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=tiercache test CA',
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
    )
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      file('server.key'),
      '-out',
      file('server.csr'),
    )
    writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n')
    openssl(
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      file('san.ext'),
      '-out',
      file('server.crt'),
    )
    ca = readFileSync(file('ca.crt'), 'utf8')
    server = await startRedisServer(
      7013,
      [
        '--tls-cert-file',
        file('server.crt'),
        '--tls-key-file',
        file('server.key'),
        '--tls-ca-cert-file',
        file('ca.crt'),
        '--tls-auth-clients',
        'no',
      ],
      { ca },
    )
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('connects with rediss:// and a CA, the subscriber included', async () => {
    await exercise(
      () =>
        new RedisStore({
          url: 'rediss://127.0.0.1:7013',
          redis: { tls: { ca } },
          minRecheckMs: 500,
          maxRecheckMs: 500,
        }),
    )
  })
})
