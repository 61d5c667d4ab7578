import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../../test/helpers/redis-servers.js'

// aa75dd3 left the time-out timer unref'd even with calls in flight. A process whose only other
// handle was the Redis socket, unref'd by its user, then exited with a read to a hung Redis
// never settled (exit 13, unsettled top-level await) instead of timing it out.
describe('a call in flight keeps the process alive until it times out (redis-server on 7050)', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedisServer(7050)
  })
  afterAll(async () => {
    process.kill(server.pid, 'SIGCONT')
    await server.stop()
  })

  it("a read to a Redis that stopped answering times out when the client's socket is unref'd", async () => {
    const script = fileURLToPath(new URL('./unanswered-call-process.mts', import.meta.url))
    const { code, stdout } = await new Promise<{ code: unknown; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', script],
        { env: { ...process.env, PORT: String(server.port), REDIS_PID: String(server.pid) }, timeout: 20_000 },
        (error, out) => resolve({ code: error === null ? 0 : (error as { code?: unknown }).code, stdout: out }),
      )
    })
    process.kill(server.pid, 'SIGCONT')
    expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: 'settled: timeout' })
  }, 30_000)
})
