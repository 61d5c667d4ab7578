import type { HeaderMap } from './headers.js'

/** What the cache asks the origin for: the client's request, with the cache's own conditional headers. */
export interface OriginRequest {
  /** Upper-case method (`GET` for a HEAD request when `convertHead` is on). */
  readonly method: string
  /** Path and query as the client sent them. */
  readonly url: string
  /** The `Host` asked for. */
  readonly host: string
  /** Request headers, lowercase names. Client validators and `Range` are removed on cacheable requests. */
  readonly headers: HeaderMap
  /** The request body, if one was read. */
  readonly body?: Uint8Array | undefined
  /** Aborted when the cache gives up on the origin (the `originTimeout`); let go of the work then. */
  readonly signal: AbortSignal
  /**
   * Called with each interim (1xx) response the origin sends before its final one, e.g. `103 Early
   * Hints`, so the integration can relay it to the client whose request this is (RFC 9110 §15.2).
   */
  readonly onInformation?: ((status: number, headers: Record<string, string | string[]>) => void) | undefined
}

/** A response body as it arrives; `cancel` lets go of the origin (the client left, or the cache gave up). */
export interface OriginBody extends AsyncIterable<Uint8Array> {
  cancel(): void
}

/** The origin's response: its head at once, its body as it streams. */
export interface OriginResponse {
  readonly status: number
  /** Response headers, any case; values as the origin set them. */
  readonly headers: Record<string, unknown>
  readonly body: OriginBody
}

/** Calls the origin for one request. Integrations adapt a handler, a middleware chain or `fetch` to this. */
export type Origin = (request: OriginRequest) => Promise<OriginResponse>

/** A body read whole, or, past the bound, the same body still streaming. */
export type BoundedBody =
  | { readonly complete: true; readonly bytes: Uint8Array }
  | { readonly complete: false; readonly body: OriginBody }

/**
 * Read `body` into memory up to `limit` bytes. Past the limit, stop reading and
 * hand back a body that replays what was read and then streams the rest, so a
 * large response passes through without ever being buffered whole.
 */
export async function readBounded(body: OriginBody, limit: number): Promise<BoundedBody> {
  const iterator = body[Symbol.asyncIterator]()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const next = await iterator.next()
    if (next.done) return { complete: true, bytes: concat(chunks, size) }
    chunks.push(next.value)
    size += next.value.byteLength
    if (size > limit) return { complete: false, body: replay(chunks, iterator, body) }
  }
}

/** Read and discard a body (a 304's, or a failed response's past the bound) so the origin's side can finish. */
export async function drain(body: OriginBody, limit: number): Promise<Uint8Array | undefined> {
  const read = await readBounded(body, limit)
  if (read.complete) return read.bytes
  read.body.cancel()
  return undefined
}

function replay(read: Uint8Array[], rest: AsyncIterator<Uint8Array>, source: OriginBody): OriginBody {
  return {
    async *[Symbol.asyncIterator]() {
      yield* read
      for (;;) {
        const next = await rest.next()
        if (next.done) return
        yield next.value
      }
    },
    cancel: () => source.cancel(),
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return bytes
}

/** Settle with `promise`, or reject with the signal's reason as soon as `signal` aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason)
    signal.addEventListener('abort', abort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort)
        reject(error)
      },
    )
  })
}

/**
 * `body` held to the length its `Content-Length` declares: iterating it fails
 * as soon as it runs past `declared` bytes, or when it ends short of them. An
 * origin that broke off is neither cached nor passed on as complete.
 */
export function heldToLength(body: OriginBody, declared: number): OriginBody {
  return {
    async *[Symbol.asyncIterator]() {
      let received = 0
      for await (const chunk of body) {
        received += chunk.byteLength
        if (received > declared) {
          body.cancel()
          throw new RangeError(`the body runs past the ${declared} bytes its Content-Length declares`)
        }
        yield chunk
      }
      if (received < declared) {
        throw new RangeError(`the body ended after ${received} of the ${declared} bytes its Content-Length declares`)
      }
    },
    cancel: () => body.cancel(),
  }
}

/** An `OriginBody` over any async iterable of bytes (a Node stream, a web `ReadableStream`); `cancel` lets go of it. */
export function originBody(source: AsyncIterable<Uint8Array> | null | undefined, cancel: () => void): OriginBody {
  return {
    async *[Symbol.asyncIterator]() {
      if (source !== null && source !== undefined) yield* source
    },
    cancel,
  }
}
