import { closeSync, openSync, writeSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** What the access log learns about one client request as it is served. */
export interface RequestRecord {
  /** Milliseconds from sending the origin request to its response's end, `undefined` when none was made. */
  ms: number | undefined
  /** Set by a hot-path hit, whose head `getHeader` cannot read. */
  cacheStatus: string | undefined
  bytes: number | undefined
  /** The request target as received, when the proxy rewrote `req.url` (absolute-form). */
  target: string | undefined
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
/** Flushed at this size, or after `FLUSH_MS`, whichever comes first (nginx's `access_log … buffer= flush=`). */
const BUFFER_BYTES = 64 * 1024
const FLUSH_MS = 200

/**
 * The access log, one line per request in nginx's `combined` format followed by
 * the cache status, the request time and the upstream time in seconds, as
 * `log_format` usually adds them:
 *
 *     127.0.0.1 - - [30/Nov/2026:19:20:00 +0000] "GET /a HTTP/1.1" 200 2048 "-" "curl/8.5" HIT 0.001 -
 *
 * Lines are buffered and written in batches: a synchronous write per request
 * would cost more than a cache hit.
 */
export class AccessLog {
  readonly #fd: number | undefined
  #buffer = ''
  #timer: NodeJS.Timeout | undefined
  #second = -1
  #stamp = ''

  /** `path`: a file (appended to), `-` for stdout, `off` for none. */
  constructor(path: string) {
    this.#fd = path === 'off' ? undefined : path === '-' ? 1 : openSync(path, 'a')
  }

  /** Whether lines go anywhere (`off` costs a hit nothing). */
  get enabled(): boolean {
    return this.#fd !== undefined
  }

  /** Log one finished request; what `seen` lacks is read from the response's headers. */
  write(req: IncomingMessage, res: ServerResponse, startedAt: number, seen: RequestRecord): void {
    if (this.#fd === undefined) return
    const now = Date.now()
    const upstreamMs = seen.ms
    const length = seen.bytes ?? res.getHeader('content-length')
    const cacheStatus = seen.cacheStatus ?? res.getHeader('x-cache')
    const ua = req.headers['user-agent']
    const referer = req.headers.referer
    this.#buffer +=
      `${req.socket.remoteAddress ?? '-'} - - [${this.#time(now)}] "${req.method} ${seen.target ?? req.url} HTTP/${req.httpVersion}" ` +
      `${res.statusCode} ${length ?? 0} "${referer ?? '-'}" "${ua ?? '-'}" ${cacheStatus ?? '-'} ` +
      `${seconds(performance.now() - startedAt)} ${upstreamMs === undefined ? '-' : seconds(upstreamMs)}\n`
    if (this.#buffer.length >= BUFFER_BYTES) this.flush()
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref()
  }

  /** Write what is buffered now. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#fd === undefined || this.#buffer.length === 0) return
    const text = this.#buffer
    this.#buffer = ''
    writeSync(this.#fd, text)
  }

  /** Flush, and close the file if the log opened one. */
  close(): void {
    this.flush()
    if (this.#fd !== undefined && this.#fd > 2) closeSync(this.#fd)
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
