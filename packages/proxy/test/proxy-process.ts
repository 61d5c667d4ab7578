import { type ChildProcess, spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'

/** The built bin (`pnpm test` builds first). */
export const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url))

/**
 * An origin that counts requests, remembers their target, headers and the
 * proxy's port they came from, and answers `body` after `delay` ms; with
 * `stall`, it sends the head and half the body, then the rest `stall` ms later.
 */
export class Origin {
  count = 0
  body = 'v1'
  delay = 0
  stall = 0
  headers: Record<string, string> = { 'content-type': 'text/plain', 'cache-tag': 'product-1' }
  readonly seen: IncomingMessage['headers'][] = []
  readonly urls: string[] = []
  readonly ports: number[] = []
  readonly server: Server = createServer((req, res) => {
    this.count++
    this.seen.push(req.headers)
    this.urls.push(req.url ?? '')
    this.ports.push(req.socket.remotePort!)
    const body = this.body
    const stall = this.stall
    setTimeout(() => {
      if (stall === 0) return res.writeHead(200, this.headers).end(body)
      res.writeHead(200, { ...this.headers, 'content-length': String(Buffer.byteLength(body)) })
      res.write(body.slice(0, body.length / 2))
      setTimeout(() => res.end(body.slice(body.length / 2)), stall)
    }, this.delay)
  })

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  close(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/** A `tiercache-proxy` process. */
export interface ProxyProcess {
  readonly url: string
  readonly child: ChildProcess
  /** What it wrote to stdout (the access log) and stderr so far. */
  readonly output: { stdout: string; stderr: string }
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>
  stop(): Promise<void>
}

/** Start the bin with `args` on `port` and wait until it listens (on `host`, when `args` say `--host`). */
export async function startBin(port: number, args: readonly string[], host = '127.0.0.1'): Promise<ProxyProcess> {
  const child = spawn(process.execPath, [BIN, '--port', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const output = { stdout: '', stderr: '' }
  child.stdout!.on('data', (chunk: Buffer) => {
    output.stdout += chunk
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    output.stderr += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  for (let i = 0; !output.stderr.includes('listening'); i++) {
    if (child.exitCode !== null || i > 200) throw new Error(`tiercache-proxy did not start: ${output.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return {
    url: `http://${host}:${port}`,
    child,
    output,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

/** Run the bin to its end with `args` (for usage errors). */
export function runBin(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk
  })
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })))
}

/**
 * Send raw bytes on a fresh connection and return what came back until the
 * server closed it (or 2 s); `then` runs once the bytes are sent (to send more on the same connection).
 */
export function raw(
  port: number,
  bytes: string,
  then?: (socket: ReturnType<typeof connect>) => unknown,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let got = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      got += chunk
    })
    socket.once('error', reject)
    socket.once('close', () => resolve(got))
    socket.setTimeout(2_000, () => socket.destroy())
    socket.write(bytes, () => then?.(socket))
  })
}
