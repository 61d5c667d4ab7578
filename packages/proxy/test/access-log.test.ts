import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { AccessLog, type RequestRecord } from '@tiercache/proxy'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiercache-access-log-'))
})
afterEach(() => {
  vi.useRealTimers()
  rmSync(dir, { recursive: true, force: true })
})

/** A request and its response as the log sees them once the response closed. */
function exchange(
  opts: { url?: string; finished?: boolean; headersSent?: boolean; status?: number; ua?: string } = {},
): { req: IncomingMessage; res: ServerResponse; seen: RequestRecord } {
  const req = {
    method: 'GET',
    url: opts.url ?? '/a',
    httpVersion: '1.1',
    headers: { 'user-agent': opts.ua ?? 'test/1' },
    socket: { remoteAddress: '10.1.2.3' },
  } as unknown as IncomingMessage
  const res = {
    statusCode: opts.status ?? 200,
    writableFinished: opts.finished ?? true,
    headersSent: opts.headersSent ?? opts.finished ?? true,
    getHeader: (name: string) => ({ 'content-length': '5', 'x-cache': 'MISS' })[name],
  } as unknown as ServerResponse
  const seen: RequestRecord = {
    startedAt: performance.now(),
    ms: undefined,
    cacheStatus: undefined,
    bytes: undefined,
    target: undefined,
  }
  return { req, res, seen }
}

const LINE = /^10\.1\.2\.3 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/a HTTP\/1\.1" /

describe('AccessLog', () => {
  it('writes a file in batches: nothing per request, everything after 200 ms', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const path = join(dir, 'access.log')
    const log = new AccessLog(path)
    const hit = exchange()
    hit.seen.cacheStatus = 'HIT'
    hit.seen.bytes = 2048
    log.write(hit.req, hit.res, hit.seen)
    const miss = exchange()
    miss.seen.ms = 12
    log.write(miss.req, miss.res, miss.seen)
    expect(readFileSync(path, 'utf8')).toBe('')
    vi.advanceTimersByTime(200)
    const lines = readFileSync(path, 'utf8').split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(LINE)
    expect(lines[0]).toMatch(/" 200 2048 "-" "test\/1" HIT \d+\.\d{3} -$/)
    // What the record lacks comes from the response's headers.
    expect(lines[1]).toMatch(/" 200 5 "-" "test\/1" MISS \d+\.\d{3} 0\.012$/)
    expect(lines[2]).toBe('')
    void log.close()
  })

  it('flushes at 64 KiB without waiting for the timer', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const path = join(dir, 'access.log')
    const log = new AccessLog(path)
    const big = exchange({ ua: 'u'.repeat(70 * 1024) })
    log.write(big.req, big.res, big.seen)
    expect(readFileSync(path, 'utf8')).toContain('u'.repeat(70 * 1024))
    void log.close()
  })

  it('close writes what is still buffered (the shutdown flush)', async () => {
    const path = join(dir, 'access.log')
    const log = new AccessLog(path)
    for (let i = 0; i < 3; i++) {
      const each = exchange()
      log.write(each.req, each.res, each.seen)
    }
    await log.close()
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(3)
  })

  it('logs a request whose client left before the answer as 499, and one cut during the body with - bytes', async () => {
    const path = join(dir, 'access.log')
    const log = new AccessLog(path)
    const before = exchange({ finished: false, headersSent: false })
    log.write(before.req, before.res, before.seen)
    const during = exchange({ finished: false, headersSent: true, status: 200 })
    log.write(during.req, during.res, during.seen)
    await log.close()
    const [first, second] = readFileSync(path, 'utf8').trim().split('\n')
    expect(first).toMatch(LINE)
    expect(first).toMatch(/" 499 0 "-"/)
    expect(second).toMatch(/" 200 - "-"/)
  })

  it('a client cannot forge fields: quotes, backslashes and control bytes in its User-Agent or target are escaped, as nginx does', async () => {
    const path = join(dir, 'access.log')
    const log = new AccessLog(path)
    // What a hostile client sends to make its line read as another request's (a fake status, cache status, times).
    const forged = exchange({ ua: 'x" HIT 0.000 -\t\u001b[2J\\"', url: '/a"b' })
    log.write(forged.req, forged.res, forged.seen)
    await log.close()
    const line = readFileSync(path, 'utf8').trim()
    expect(line).toContain('"GET /a\\x22b HTTP/1.1"')
    expect(line).toContain('"x\\x22 HIT 0.000 -\\x09\\x1B[2J\\x5C\\x22"')
    expect(line.split('"')).toHaveLength(7) // three quoted fields: request, referer, user agent
  })

  it("to stdout: close resolves only once the stream took the last batch (a full pipe's writes are queued)", async () => {
    let release: (() => void) | undefined
    const taken: string[] = []
    const stdout = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        taken.push(chunk.toString())
        release = callback
      },
    })
    const log = new AccessLog('-', stdout)
    const each = exchange()
    log.write(each.req, each.res, each.seen)
    let closed = false
    const closing = log.close().then(() => {
      closed = true
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(taken.join('')).toMatch(LINE)
    expect(closed).toBe(false)
    release!()
    await closing
    expect(closed).toBe(true)
  })

  it('to stdout: past 16 MiB its reader has not taken, batches are dropped, and counted once it reads again', async () => {
    let flowing = false
    let pending: (() => void) | undefined
    const stdout = new Writable({
      write(_chunk, _encoding, callback) {
        if (flowing) callback()
        else pending = callback
      },
    })
    const notes: string[] = []
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((text) => {
      notes.push(String(text))
      return true
    })
    try {
      const log = new AccessLog('-', stdout)
      // Lines of just over 1 MiB (a huge User-Agent), each flushed at once: the first is in progress, the rest
      // queue up until over 16 MiB wait (16 lines); the last 4 are dropped.
      for (let i = 0; i < 20; i++) {
        const each = exchange({ ua: 'u'.repeat(1024 * 1024) })
        log.write(each.req, each.res, each.seen)
      }
      expect(stdout.writableLength).toBeGreaterThan(16 * 1024 * 1024)
      expect(stdout.writableLength).toBeLessThan(17 * 1024 * 1024)
      expect(notes).toEqual([])
      flowing = true
      pending!()
      await new Promise((resolve) => setImmediate(resolve))
      expect(stdout.writableLength).toBe(0)
      const next = exchange()
      log.write(next.req, next.res, next.seen)
      await log.close()
      expect(notes).toEqual(["tiercache-proxy: the access log's reader fell behind: 4 lines dropped\n"])
    } finally {
      stderr.mockRestore()
    }
  })

  it('a process that exits without close still writes its buffered lines', () => {
    const path = join(dir, 'access.log')
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))
    const script = `
      const { AccessLog } = await import(${JSON.stringify(dist)})
      const log = new AccessLog(${JSON.stringify(path)})
      const req = { method: 'GET', url: '/a', httpVersion: '1.1', headers: {}, socket: { remoteAddress: '10.1.2.3' } }
      const res = { statusCode: 200, writableFinished: true, headersSent: true, getHeader: () => undefined }
      log.write(req, res, { startedAt: performance.now() })
      process.exit(3)
    `
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(run.status).toBe(3)
    expect(readFileSync(path, 'utf8')).toMatch(LINE)
  })

  it("'off' writes nothing and is not enabled", async () => {
    const log = new AccessLog('off')
    expect(log.enabled).toBe(false)
    const each = exchange()
    log.write(each.req, each.res, each.seen)
    await log.close()
  })
})
