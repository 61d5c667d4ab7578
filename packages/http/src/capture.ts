import { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Writable } from 'node:stream'
import type { Origin, OriginBody, OriginRequest, OriginResponse } from './origin.js'

/** A `node:http` request listener, sync or async. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown

/** Bytes buffered from a handler before its `write` starts returning `false`, as a socket would. */
const HIGH_WATER_MARK = 64 * 1024

/**
 * A `node:http` handler as the cache's origin: each miss or refresh runs it on
 * a request and response of the cache's own (see `captureNodeResponse`). For
 * integrations built on `HttpCache.handle`; `decorate` marks those requests.
 *
 * @example
 * const outcome = await httpCache.handle(request, nodeOrigin((req, res) => res.end('hi')))
 */
export function nodeOrigin(
  handler: NodeHandler,
  decorate?: (req: IncomingMessage, res: ServerResponse) => void,
): Origin {
  if (typeof handler !== 'function') throw new TypeError('handler must be a function (req, res) => void')
  return (request) => captureNodeResponse(handler, request, decorate)
}

/**
 * Run a `node:http` handler on a request of our own and capture its response:
 * resolves with the status and headers as soon as the handler sends them, and
 * streams the body from its `write`s with backpressure.
 *
 * The handler gets genuine `IncomingMessage` / `ServerResponse` objects (on a
 * socket that goes nowhere), so frameworks that re-parent their prototypes
 * (Express) keep working; the capture hooks are own properties for that reason.
 */
export function captureNodeResponse(
  handler: NodeHandler,
  request: OriginRequest,
  decorate?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<OriginResponse> {
  return new Promise<OriginResponse>((resolve, reject) => {
    const socket = new NullSocket()
    const req = syntheticRequest(socket, request)
    const res = new ServerResponse(req)
    res.assignSocket(socket as unknown as Socket)
    // Node merges the headers given to writeHead() into getHeaders() only once a header map exists.
    res.setHeader('x-tiercache-capture', '1')
    res.removeHeader('x-tiercache-capture')

    const abort = () => {
      // Fail first, so the consumer sees an error rather than a body that merely ended early.
      fail(request.signal.reason)
      res.destroy()
      req.destroy()
    }
    // Let go of the signal once the response is over: the signal (the origin timeout) may outlive it by
    // up to `originTimeout`, and its listener would hold this request and response until then.
    const release = () => request.signal.removeEventListener('abort', abort)
    const body = new BodyQueue(
      () => res.emit('drain'),
      () => {
        release()
        res.destroy()
        req.destroy()
      },
    )
    let headed = false
    const head = () => {
      if (headed) return
      headed = true
      resolve({ status: res.statusCode, headers: res.getHeaders(), body })
    }
    const fail = (error: unknown) => {
      release()
      if (!headed) reject(error)
      else body.fail(error)
    }

    const proto = ServerResponse.prototype
    res.writeHead = function writeHead(this: ServerResponse, ...args: unknown[]) {
      const result = (proto.writeHead as (...a: unknown[]) => ServerResponse).apply(this, args)
      head()
      return result
    } as ServerResponse['writeHead']
    res.write = function write(this: ServerResponse, chunk: unknown, encoding?: unknown, callback?: unknown) {
      ;(proto.write as (...a: unknown[]) => boolean).call(this, chunk, encoding, callback)
      head()
      body.push(toBytes(chunk, encoding))
      return body.accepting
    } as ServerResponse['write']
    res.end = function end(this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown) {
      if (typeof chunk === 'function') [chunk, encoding, callback] = [undefined, undefined, chunk]
      if (typeof encoding === 'function') [encoding, callback] = [undefined, encoding]
      ;(proto.end as (...a: unknown[]) => ServerResponse).call(this, chunk, encoding, callback)
      head()
      if (chunk !== undefined && chunk !== null) body.push(toBytes(chunk, encoding))
      body.end()
      release()
      return this
    } as ServerResponse['end']
    // `res.destroy(error)` (what `stream.pipeline` does when its source fails) destroys the socket with
    // that error: it is this capture's failure, never an unhandled 'error' event.
    socket.on('error', fail)
    // Interim responses go to whoever asked for them (the client), never into the captured response.
    res.writeEarlyHints = function writeEarlyHints(hints: Record<string, string | string[]>, callback?: () => void) {
      request.onInformation?.(103, hints)
      callback?.()
    } as ServerResponse['writeEarlyHints']
    res.once('close', () => {
      if (!body.ended) fail(new Error('the origin handler closed the response before ending it'))
    })
    request.signal.addEventListener('abort', abort, { once: true })

    decorate?.(req, res)
    try {
      const result = handler(req, res)
      if (isThenable(result)) result.then(undefined, fail)
    } catch (error) {
      fail(error)
    }
  })
}

function syntheticRequest(socket: NullSocket, request: OriginRequest): IncomingMessage {
  const req = new IncomingMessage(socket as unknown as Socket)
  req.method = request.method
  req.url = request.url
  req.httpVersion = '1.1'
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  const headers: Record<string, string | string[]> = {}
  const raw: string[] = []
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue
    headers[name] = value
    for (const one of Array.isArray(value) ? value : [value]) raw.push(name, one)
  }
  req.headers = headers
  req.rawHeaders = raw
  if (request.body !== undefined && request.body.byteLength > 0) req.push(Buffer.from(request.body))
  req.push(null)
  req.complete = true
  return req
}

/** The socket under a captured response: takes the serialised bytes and drops them. */
class NullSocket extends Writable {
  readonly remoteAddress = '127.0.0.1'
  readonly remotePort = 0
  readonly encrypted = false
  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    callback()
  }
  setTimeout(): this {
    return this
  }
  setNoDelay(): this {
    return this
  }
  setKeepAlive(): this {
    return this
  }
}

/** A single-consumer queue of body chunks: the handler pushes, the cache iterates. */
class BodyQueue implements OriginBody {
  ended = false
  #chunks: Uint8Array[] = []
  #queued = 0
  #error: unknown
  #failed = false
  #cancelled = false
  #wake: (() => void) | undefined
  readonly #onDrain: () => void
  readonly #onCancel: () => void

  constructor(onDrain: () => void, onCancel: () => void) {
    this.#onDrain = onDrain
    this.#onCancel = onCancel
  }

  /** False once the consumer has fallen `HIGH_WATER_MARK` bytes behind: the handler should wait for `drain`. */
  get accepting(): boolean {
    return this.#queued < HIGH_WATER_MARK
  }

  push(chunk: Uint8Array): void {
    if (this.#cancelled || this.ended || chunk.byteLength === 0) return
    this.#chunks.push(chunk)
    this.#queued += chunk.byteLength
    this.#notify()
  }

  end(): void {
    this.ended = true
    this.#notify()
  }

  fail(error: unknown): void {
    if (this.ended) return
    this.#failed = true
    this.#error = error
    this.ended = true
    this.#notify()
  }

  cancel(): void {
    if (this.#cancelled) return
    this.#cancelled = true
    this.#chunks = []
    if (!this.ended) this.#onCancel()
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.#failed) throw this.#error
      if (this.#cancelled) return
      const chunk = this.#chunks.shift()
      if (chunk !== undefined) {
        const wasFull = !this.accepting
        this.#queued -= chunk.byteLength
        if (wasFull && this.accepting) this.#onDrain()
        yield chunk
        continue
      }
      if (this.ended) return
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
    }
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}

function toBytes(chunk: unknown, encoding: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
  throw new TypeError(`a response chunk must be a string or a Uint8Array, got ${typeof chunk}`)
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function'
}
