import { type ChildProcess, spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'

/** The built bin (`pnpm test` builds first). */
export const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url))

/** An origin that counts requests, remembers their headers, and answers `body` after `delay` ms. */
export class Origin {
  count = 0
  body = 'v1'
  delay = 0
  headers: Record<string, string> = { 'content-type': 'text/plain', 'cache-tag': 'product-1' }
  readonly seen: IncomingMessage['headers'][] = []
  readonly server: Server = createServer((req, res) => {
    this.count++
    this.seen.push(req.headers)
    const body = this.body
    setTimeout(() => res.writeHead(200, this.headers).end(body), this.delay)
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

/** Start the bin with `args` on `port` and wait until it listens. */
export async function startBin(port: number, args: readonly string[]): Promise<ProxyProcess> {
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
    url: `http://127.0.0.1:${port}`,
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

/** Send raw bytes on a fresh connection and return what came back until the server closed it (or 2 s). */
export function raw(port: number, bytes: string): Promise<string> {
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
    socket.write(bytes)
  })
}
