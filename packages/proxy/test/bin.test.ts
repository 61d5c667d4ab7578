import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BIN, Origin, type ProxyProcess, raw, runBin, startBin } from './proxy-process.js'

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

  it('refuses what RFC 9112 says to refuse, each on a closed connection, and never asks the origin', async () => {
    const { origin } = await setUp()
    const refused: [string, string, number][] = [
      ['two Host fields (§3.2)', 'GET /a HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n', 400],
      ['HTTP/1.1 without Host (§3.2)', 'GET /a HTTP/1.1\r\n\r\n', 400],
      ['a Host with a space (§3.2)', 'GET /a HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
      ['a Host with userinfo (§3.2)', 'GET /a HTTP/1.1\r\nHost: user@a.example\r\n\r\n', 400],
      ['an empty Host (§3.2)', 'GET /a HTTP/1.1\r\nHost:\r\n\r\n', 400],
      [
        'Content-Length with Transfer-Encoding (§6.1)',
        'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        400,
      ],
      ['Transfer-Encoding in HTTP/1.0 (§6.1)', 'POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['chunked not the final coding (§6.1)', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nab', 400],
      [
        'two different Content-Lengths (§6.3)',
        'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
        400,
      ],
      ['whitespace before the colon (§5.1)', 'GET /a HTTP/1.1\r\nHost : a\r\n\r\n', 400],
      ['obs-fold (§5.2)', 'GET /a HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n', 400],
      ['whitespace before the first field (§2.2)', 'GET /a HTTP/1.1\r\n Host: a\r\n\r\n', 400],
      ['a target in no form (§3.2)', 'GET a HTTP/1.1\r\nHost: a\r\n\r\n', 400],
      ['a target over 8 KiB (§3)', `GET /${'a'.repeat(9_000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414],
      ['HTTP/2.0 as text', 'GET /a HTTP/2.0\r\nHost: a\r\n\r\n', 505],
      ['HTTP/0.9', 'GET /a\r\n\r\n', 505],
      ['CONNECT (§3.2.3): no tunnels here', 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n', 501],
    ]
    for (const [what, bytes, status] of refused) {
      const answer = await raw(PORT, bytes)
      expect(answer.split('\r\n')[0], what).toBe(`HTTP/1.1 ${status} ${STATUS_CODES[status]}`)
      expect(answer.toLowerCase(), what).toContain('connection: close')
    }
    expect(origin.count).toBe(0)
    // What the RFC allows: HTTP/1.0 without Host, OPTIONS * (answered here: no origin path names it).
    expect(await raw(PORT, 'GET /a HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /)
    expect(await raw(PORT, 'OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 204 /)
    expect(origin.count).toBe(1)
  })

  it('takes an absolute-form target by its authority, ignoring Host (RFC 9112 §3.2.2)', async () => {
    const { origin, proxy } = await setUp()
    const absolute = 'GET http://shop.example/a?x=1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n'
    expect(await raw(PORT, absolute)).toMatch(/^HTTP\/1\.1 200 [\s\S]*x-cache: MISS[\s\S]*v1$/)
    expect(origin.urls).toEqual(['/a?x=1'])
    expect(origin.seen[0]!['x-forwarded-host']).toBe('shop.example')
    // One resource with the origin-form request for it: the same cache entry.
    const originForm = 'GET /a?x=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n'
    expect(await raw(PORT, originForm)).toMatch(/x-cache: HIT/)
    expect(origin.count).toBe(1)
    await proxy.stop()
    // The access log keeps the request line as received.
    expect(proxy.output.stdout).toContain('"GET http://shop.example/a?x=1 HTTP/1.1" 200')
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

  it('while draining, health answers 503 on a connection still open, so a balancer stops sending', async () => {
    const { origin, proxy } = await setUp()
    origin.delay = 500
    // One connection: a slow request, then (once SIGTERM arrived) a health check pipelined behind it.
    const answers = raw(PORT, 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\n', async (socket) => {
      while (origin.count === 0) await new Promise((resolve) => setTimeout(resolve, 10))
      proxy.child.kill('SIGTERM')
      await new Promise((resolve) => setTimeout(resolve, 100))
      socket.write('GET /_tiercache/health HTTP/1.1\r\nHost: a\r\n\r\n')
    })
    const [slow, health] = (await answers).split(/(?=HTTP\/1\.1 )/)
    expect(slow).toMatch(/^HTTP\/1\.1 200 [\s\S]*v1$/)
    expect(health).toMatch(/^HTTP\/1\.1 503 [\s\S]*"status":"draining"/)
    expect(await proxy.exited).toBe(0)
  })

  it('logs a request whose client left before its answer, as 499 (nginx: client closed request)', async () => {
    const { origin, proxy } = await setUp()
    origin.delay = 300
    await raw(PORT, 'GET /left HTTP/1.1\r\nHost: a\r\nUser-Agent: leaver\r\n\r\n', (socket) => {
      setTimeout(() => socket.destroy(), 50)
    })
    // The origin's answer arrives after the client left: it is still cached for the next request.
    await new Promise((resolve) => setTimeout(resolve, 400))
    await proxy.stop()
    expect(proxy.output.stdout).toMatch(/"GET \/left HTTP\/1\.1" 499 0 "-" "leaver" - \d+\.\d{3} /)
  })

  it('keeps serving while the access log shares a full pipe with stderr (2>&1), and loses no line', async () => {
    const origin = new Origin()
    const originUrl = await origin.listen()
    running.push({ stop: () => origin.close() })
    const port = PORT + 3
    // One pipe for stdout and stderr: the proxy's own stderr writes make it non-blocking, so a synchronous
    // write of the log to a full pipe failed with EAGAIN and crashed the proxy.
    const child = spawn('sh', ['-c', `exec "${process.execPath}" "${BIN}" --origin ${originUrl} --port ${port} 2>&1`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    running.push({
      stop: async () => {
        if (child.exitCode === null) child.kill('SIGTERM')
        await exited
      },
    })
    let output = ''
    const collect = (chunk: Buffer) => {
      output += chunk
    }
    child.stdout!.on('data', collect)
    for (let i = 0; !output.includes('listening'); i++) {
      if (child.exitCode !== null || i > 200) throw new Error(`tiercache-proxy did not start: ${output}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    // Stop reading: the pipe fills (64 KiB, and what node buffers before it stops reading).
    child.stdout!.off('data', collect)
    child.stdout!.pause()
    const agent = `big-${'u'.repeat(6_000)}`
    const requests = 60
    for (let i = 0; i < requests; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/p${i % 3}`, { headers: { 'user-agent': agent } })
      expect(res.status).toBe(200)
      await res.text()
    }
    // Past the log's 200 ms flush with the pipe still full: the proxy still answers.
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(child.exitCode).toBe(null)
    expect((await fetch(`http://127.0.0.1:${port}/_tiercache/health`)).status).toBe(200)
    child.stdout!.on('data', collect)
    child.stdout!.resume()
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(output.split('\n').filter((line) => line.includes(agent))).toHaveLength(requests)
  })

  it('--host: listens on that address only', async () => {
    const origin = new Origin()
    const originUrl = await origin.listen()
    running.push({ stop: () => origin.close() })
    const proxy = await startBin(PORT + 2, ['--origin', originUrl, '--host', '127.0.0.2'], '127.0.0.2')
    running.push(proxy)
    expect(proxy.output.stderr).toContain(`listening on http://127.0.0.2:${PORT + 2}`)
    expect(await (await fetch(`${proxy.url}/h`)).text()).toBe('v1')
    await expect(fetch(`http://127.0.0.1:${PORT + 2}/h`)).rejects.toThrow()
  })

  it('reaches the origin over kept-alive connections: sequential misses share one', async () => {
    const { origin, proxy } = await setUp()
    for (const path of ['/k1', '/k2', '/k3', '/k4']) await (await fetch(`${proxy.url}${path}`)).text()
    expect(origin.count).toBe(4)
    expect(new Set(origin.ports).size).toBe(1)
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
