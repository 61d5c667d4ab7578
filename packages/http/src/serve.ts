import { type HttpRequestTrace, isTraced, tracing } from '@tiercache/core'
import type { CacheRequest } from './cache-request.js'
import type { HttpCache } from './http-cache.js'
import type { Origin } from './origin.js'
import { type CacheStatus, type Reply, replyFromOrigin } from './reply.js'
import { countsOf, type ResponseCounts } from './response-counts.js'

/**
 * Told the status and headers of a passed request's response, once the
 * integration has them, so the cache can act on it (RFC 9111 §4.4
 * invalidation after unsafe methods). It never rejects.
 */
export type PassedResponse = (status: number, headers: Record<string, unknown>) => Promise<void>

/**
 * One request as an integration hands it to the cache: the request in the
 * cache's terms, the way to its origin, and how to answer or pass it on. An
 * integration only converts; `serve` decides.
 */
export interface Exchange<R> {
  readonly request: CacheRequest
  /** Runs the origin on a request of the cache's own (a miss, a refresh, a replay). */
  readonly origin: Origin
  /** The request body if it is at most `limit` bytes; `undefined` when it is larger or cannot be read here. */
  readBody(limit: number): Promise<Uint8Array | undefined>
  /**
   * For an integration whose `readBody` consumes the live request: aborted when
   * the client goes away. A passed request whose body was read is then replayed
   * through `origin`. Without it, `pass` still sends the body.
   */
  readonly replaySignal?: () => AbortSignal
  /**
   * Let the live request through to the origin, uncached, with `status` as the status header;
   * when `passed` is given, call it with the origin's response before the client gets it
   * (or, when the integration cannot wait, as soon as it is sent).
   */
  pass(status: CacheStatus, passed?: PassedResponse): R | Promise<R>
  /** Write `reply` to the client. */
  reply(reply: Reply): R | Promise<R>
}

/**
 * The request flow every integration shares: bypass, read a cacheable body,
 * look up, answer or pass. Each answer is counted by its `X-Cache` status
 * (`httpCache.stats()`) and, when someone listens, published on the
 * `tiercache:http:request` tracing channel.
 */
export function serve<R>(engine: HttpCache, exchange: Exchange<R>): Promise<R> {
  const counts = countsOf(engine)
  if (!isTraced(tracing.httpRequest)) {
    return flow(engine, exchange, (status) => counts.answered(status)).catch(failed(counts))
  }
  const { method, url } = exchange.request
  const trace: HttpRequestTrace = { cache: engine.options.cache.name, owner: engine, method, url }
  const answered = (status: CacheStatus) => {
    counts.answered(status)
    trace.cacheStatus = status
  }
  return tracing.httpRequest.tracePromise(() => flow(engine, exchange, answered).catch(failed(counts)), trace)
}

async function flow<R>(engine: HttpCache, exchange: Exchange<R>, answered: (status: CacheStatus) => void): Promise<R> {
  let request = exchange.request
  // What a passed unsafe method changed must not be served from the cache afterwards (RFC 9111 §4.4).
  const passed: PassedResponse | undefined = engine.options.policy.invalidatesAfterUnsafeMethods
    ? (status, headers) => engine.invalidateAfter(exchange.request, status, headers).catch(() => {})
    : undefined
  const pass = (status: CacheStatus) => {
    answered(status)
    return exchange.pass(status, passed)
  }
  const reply = (answer: Reply) => {
    answered(answer.cacheStatus)
    return exchange.reply(answer)
  }
  // 1. Not cacheable (method, Authorization, Upgrade): straight to the origin
  if (engine.bypassReason(request) !== undefined) return pass('BYPASS')

  // 2. A cacheable method with a body: read it, bounded, so it can be keyed and replayed
  if (engine.wantsBody(request.method)) {
    const body = await exchange.readBody(engine.options.maxBodySize)
    // Too large to key or replay (or unreadable here): the request goes through whole.
    if (body === undefined) return pass('BYPASS')
    request = { ...request, body }
  }

  // 3. The cache: a reply, or a pass to the origin
  const outcome = await engine.handle(request, exchange.origin)
  if (outcome.kind === 'reply') {
    // A cacheable unsafe method (POST in `methods`) that went to the origin changed what it targets too.
    if (outcome.cacheStatus === 'MISS' || outcome.cacheStatus === 'EXPIRED')
      await passed?.(outcome.status, outcome.headers)
    return reply(outcome)
  }
  if (request.body === undefined || exchange.replaySignal === undefined) return pass(outcome.cacheStatus)

  // 4. Passed, but the body was read off the live request: replay it on a request of the cache's own
  const replayed = await exchange.origin({ ...request, signal: exchange.replaySignal() })
  await passed?.(replayed.status, replayed.headers)
  const at = { method: request.method, requestHeaders: request.headers, statusHeader: engine.options.statusHeader }
  return reply(replyFromOrigin(replayed.status, replayed.headers, replayed.body, outcome.cacheStatus, at))
}

/** Counts a request the flow could not answer (the integration sends its error), and rethrows. */
function failed(counts: ResponseCounts): (error: unknown) => never {
  return (error) => {
    counts.failed()
    throw error
  }
}
