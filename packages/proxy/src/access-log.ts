import { closeSync, openSync, writeSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Writable } from 'node:stream'

/** What the access log learns about one client request as it is served. */
export interface RequestRecord {
  /** `performance.now()` when the request reached the proxy. */
  startedAt: number
  /** Milliseconds from sending the origin request to its response's end, `undefined` when none was made. */
  ms: number | undefined
  /** Set by a hot-path hit, whose head `getHeader` cannot read. */
  cacheStatus: string | undefined
  bytes: number | undefined
  /** The request target as received, when the proxy rewrote `req.url` (absolute-form). */
  target: string | undefined
}

/** Where the lines go: appended to a file, or to a stream (stdout). */
type Sink = { readonly kind: 'file'; readonly fd: number } | { readonly kind: 'stream'; readonly stream: Writable }

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
/** Flushed at this size, or after `FLUSH_MS`, whichever comes first (nginx's `access_log … buffer= flush=`). */
const BUFFER_BYTES = 64 * 1024
const FLUSH_MS = 200
/**
 * Past this much written to stdout and not yet taken by its reader, batches are
 * dropped (and counted on stderr) rather than held: a stalled log reader must
 * not grow the proxy's memory without bound.
 */
const MAX_PENDING_BYTES = 16 * 1024 * 1024
/** nginx's status for a request whose client closed the connection before it was answered. */
const CLIENT_CLOSED = 499

/**
 * The access log, one line per request in nginx's `combined` format followed by
 * the cache status, the request time and the upstream time in seconds, as
 * `log_format` usually adds them:
 *
 *     127.0.0.1 - - [30/Nov/2026:19:20:00 +0000] "GET /a HTTP/1.1" 200 2048 "-" "curl/8.5" HIT 0.001 -
 *
 * A request whose client left before its answer was sent is logged `499` (as
 * nginx does) with 0 bytes; one whose client left during the body, with its
 * status and `-` bytes (not all were sent).
 *
 * Lines are buffered and written in batches: a write per request would cost
 * more than a cache hit. A file is written synchronously, as nginx writes its
 * log; stdout through `process.stdout`, which queues what a full pipe cannot
 * take yet (a synchronous write to a non-blocking pipe fails with `EAGAIN`).
 * What is buffered is written on `close` and, should the process exit without
 * one, on its `exit`.
 */
export class AccessLog {
  readonly #sink: Sink | undefined
  #buffer = ''
  #timer: NodeJS.Timeout | undefined
  #second = -1
  #stamp = ''
  #dropped = 0
  /** Settles once stdout took the last batch written to it. */
  #written: Promise<void> = Promise.resolve()
  readonly #onExit = () => this.flush()

  /** `path`: a file (appended to), `-` for stdout, `off` for none; `stdout` stands in for `process.stdout`. */
  constructor(path: string, stdout: Writable = process.stdout) {
    if (path === 'off') return
    this.#sink = path === '-' ? { kind: 'stream', stream: stdout } : { kind: 'file', fd: openSync(path, 'a') }
    process.on('exit', this.#onExit)
  }

  /** Whether lines go anywhere (`off` costs a hit nothing). */
  get enabled(): boolean {
    return this.#sink !== undefined
  }

  /**
   * Log one request once its response closed (finished, or cut by the client);
   * what `seen` lacks is read from the response's headers.
   */
  write(req: IncomingMessage, res: ServerResponse, seen: RequestRecord): void {
    if (this.#sink === undefined) return
    const now = Date.now()
    const upstreamMs = seen.ms
    const complete = res.writableFinished
    const status = complete || res.headersSent ? res.statusCode : CLIENT_CLOSED
    const bytes = complete ? (seen.bytes ?? res.getHeader('content-length') ?? 0) : res.headersSent ? '-' : 0
    const cacheStatus = seen.cacheStatus ?? res.getHeader('x-cache')
    const ua = req.headers['user-agent']
    const referer = req.headers.referer
    const target = seen.target ?? req.url ?? ''
    this.#buffer +=
      `${req.socket.remoteAddress ?? '-'} - - [${this.#time(now)}] "${req.method} ${escaped(target)} HTTP/${req.httpVersion}" ` +
      `${status} ${bytes} "${referer === undefined ? '-' : escaped(referer)}" "${ua === undefined ? '-' : escaped(ua)}" ${cacheStatus ?? '-'} ` +
      `${seconds(performance.now() - seen.startedAt)} ${upstreamMs === undefined ? '-' : seconds(upstreamMs)}\n`
    if (this.#buffer.length >= BUFFER_BYTES) this.flush()
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref()
  }

  /** Write what is buffered now. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const sink = this.#sink
    if (sink === undefined || this.#buffer.length === 0) return
    const text = this.#buffer
    this.#buffer = ''
    if (sink.kind === 'file') {
      writeSync(sink.fd, text)
      return
    }
    if (sink.stream.writableLength > MAX_PENDING_BYTES) {
      this.#dropped += lineCount(text)
      return
    }
    if (this.#dropped > 0) {
      process.stderr.write(`tiercache-proxy: the access log's reader fell behind: ${this.#dropped} lines dropped\n`)
      this.#dropped = 0
    }
    this.#written = new Promise((resolve) => sink.stream.write(text, () => resolve()))
  }

  /** Flush, and close the file if the log opened one; resolves once stdout took the last lines. */
  async close(): Promise<void> {
    this.flush()
    process.off('exit', this.#onExit)
    const sink = this.#sink
    if (sink?.kind === 'file') closeSync(sink.fd)
    else await this.#written
  }

  /** `$time_local` (in UTC), formatted once per second. */
  #time(now: number): string {
    const second = Math.floor(now / 1000)
    if (second !== this.#second) {
      const d = new Date(now)
      const pad = (n: number) => String(n).padStart(2, '0')
      this.#stamp = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
      this.#second = second
    }
    return this.#stamp
  }
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3)

function lineCount(text: string): number {
  let count = 0
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) count++
  return count
}

/**
 * What a client sends that could close a quoted field or drive a terminal: `"`, `\`, control and non-ASCII
 * bytes (anything but printable ASCII other than those two).
 */
const UNSAFE = /[^ !#-[\]-~]/
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g')

/**
 * A client's text as the log writes it: unsafe characters as `\xXX`, as nginx's `escape=default` does, so a
 * User-Agent or target cannot end its field and forge the rest of the line (a status, a cache status, times).
 */
function escaped(text: string): string {
  if (!UNSAFE.test(text)) return text
  return text.replace(UNSAFE_ALL, (c) => `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
}
