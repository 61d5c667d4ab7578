import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Origin, type ProxyProcess, raw, runBin, startBin } from './proxy-process.js'

// Ports of this file's proxies (HTTP, outside the Redis range).
const PORT = 19_610
const running: { stop(): Promise<void> }[] = []
afterEach(async () => {
  for (const each of running.splice(0).reverse()) await each.stop()
})

async function setUp(extra: readonly string[] = []): Promise<{ origin: Origin; proxy: ProxyProcess }> {
  const origin = new Origin()
  const originUrl = await origin.listen()
  running.push({ stop: () => origin.close() })
  const config = join(tmpdir(), `tiercache-proxy-test-${process.pid}.json`)
  writeFileSync(config, JSON.stringify({ purgeToken: 's3cret', shutdownTimeout: 5_000 }))
  const proxy = await startBin(PORT, ['--origin', originUrl, '--config', config, '--ttl', '60s', ...extra])
  running.push(proxy)
  return { origin, proxy }
}

describe('tiercache-proxy (the bin)', () => {
  it('MISS then HIT, X-Forwarded-* to the origin like nginx, and one access log line per request', async () => {
    const { origin, proxy } = await setUp()
    const first = await fetch(`${proxy.url}/a?x=1`, { headers: { 'x-forwarded-for': '10.0.0.9' } })
    expect(first.headers.get('x-cache')).toBe('MISS')
    expect(await first.text()).toBe('v1')
    const second = await fetch(`${proxy.url}/a?x=1`)
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(await second.text()).toBe('v1')
    expect(origin.count).toBe(1)

    const seen = origin.seen[0]!
    expect(seen['x-forwarded-for']).toBe('10.0.0.9, 127.0.0.1')
    expect(seen['x-forwarded-proto']).toBe('http')
    expect(seen['x-forwarded-host']).toBe(`127.0.0.1:${PORT}`)
    expect(seen.host).toBe(`127.0.0.1:${(origin.server.address() as { port: number }).port}`)

    await proxy.stop()
    const lines = proxy.output.stdout.trim().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/a\?x=1 HTTP\/1\.1" 200 2 "-" "[^"]*" MISS \d+\.\d{3} \d+\.\d{3}$/,
    )
    expect(lines[1]).toMatch(/" 200 2 "-" "[^"]*" HIT \d+\.\d{3} -$/)
  })

  it('answers 400 to what RFC 9112 says to reject: two Host headers, Content-Length with Transfer-Encoding', async () => {
    const { origin } = await setUp()
    const twoHosts = await raw(PORT, 'GET /a HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n')
    expect(twoHosts).toMatch(/^HTTP\/1\.1 400 /)
    const smuggled = await raw(
      PORT,
      'POST /a HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    )
    expect(smuggled).toMatch(/^HTTP\/1\.1 400 /)
    expect(origin.count).toBe(0)
  })

  it('purges by URL and by tag with the token from the config: 401 without it, 403 with a wrong one', async () => {
    const { origin, proxy } = await setUp()
    await (await fetch(`${proxy.url}/p`)).text()
    const purge = (query: string, token?: string) =>
      fetch(`${proxy.url}/_tiercache/purge?${query}`, {
        method: 'POST',
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      })
    expect((await purge('url=/p')).status).toBe(401)
    expect((await purge('url=/p', 'guess')).status).toBe(403)
    expect((await fetch(`${proxy.url}/p`)).headers.get('x-cache')).toBe('HIT')

    expect((await purge('url=/p', 's3cret')).status).toBe(200)
    origin.body = 'v2'
    const afterUrl = await fetch(`${proxy.url}/p`)
    expect([afterUrl.headers.get('x-cache'), await afterUrl.text()]).toEqual(['MISS', 'v2'])

    expect((await purge('tag=product-1', 's3cret')).status).toBe(200)
    origin.body = 'v3'
    const afterTag = await fetch(`${proxy.url}/p`)
    expect(await afterTag.text()).toBe('v3')
    expect(origin.count).toBe(3)
    expect((await fetch(`${proxy.url}/_tiercache/health`)).status).toBe(200)
  })

  it('on SIGTERM stops accepting, lets the request in flight finish whole, and exits 0', async () => {
    const { origin, proxy } = await setUp()
    origin.delay = 400
    const slow = fetch(`${proxy.url}/slow`).then(async (res) => ({ status: res.status, body: await res.text() }))
    while (origin.count === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    proxy.child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 100))
    await expect(fetch(`${proxy.url}/other`)).rejects.toThrow()
    expect(await slow).toEqual({ status: 200, body: 'v1' })
    expect(await proxy.exited).toBe(0)
  })

  it("--policy rfc9111 lets the origin's Cache-Control decide; the default (nginx) keeps to --ttl", async () => {
    const { origin, proxy } = await setUp(['--policy', 'rfc9111'])
    origin.headers = { 'content-type': 'text/plain', 'cache-control': 'max-age=0' }
    await (await fetch(`${proxy.url}/zero`)).text()
    expect((await fetch(`${proxy.url}/zero`)).headers.get('x-cache')).not.toBe('HIT')
    expect(origin.count).toBe(2)
    await proxy.stop()
    running.pop()
    const nginxLike = await startBin(PORT + 1, [
      '--origin',
      `http://127.0.0.1:${(origin.server.address() as { port: number }).port}`,
    ])
    running.push(nginxLike)
    await (await fetch(`${nginxLike.url}/zero`)).text()
    expect((await fetch(`${nginxLike.url}/zero`)).headers.get('x-cache')).toBe('HIT')
    expect(origin.count).toBe(3)
  })

  it('an unknown flag or a bad duration is a usage error: exit 2 with the usage', async () => {
    const unknown = await runBin(['--origin', 'http://127.0.0.1:1', '--port', '1', '--bogus'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("Unknown option '--bogus'")
    expect(unknown.stderr).toContain('Usage: tiercache-proxy')
    const duration = await runBin(['--origin', 'http://127.0.0.1:1', '--port', '1', '--ttl', '5 minutes'])
    expect(duration.code).toBe(2)
    expect(duration.stderr).toContain('--ttl must be a duration')
  })
})
