import { errorBrand, TierCacheError } from '@tiercache/core'
import type { StoredHeaders } from './headers.js'

/** An origin response kept in memory so every waiter of a failed load can be answered with it. */
export interface FailedResponse {
  readonly status: number
  readonly headers: StoredHeaders
  readonly body: Uint8Array
}

/**
 * How the origin failed: it threw (or its connection failed) before answering,
 * did not finish within `originTimeout`, answered with an `errorStatuses`
 * status, or broke off its body (destroyed, or shorter or longer than its
 * `Content-Length`).
 */
export type OriginFailure = 'threw' | 'timeout' | 'status' | 'broke'

/**
 * The origin failed: it threw, did not answer within `originTimeout`,
 * answered with one of the `errorStatuses` (5xx by default), or broke off its
 * body. Nothing is cached from it. The cache then
 * serves a stale response when it has one (stale-if-error); otherwise the
 * client gets `response` (the origin's own error page) or a 502/504.
 */
export class OriginError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.http.OriginError')
  readonly failure: OriginFailure
  /** The origin's error response, when it sent one (`failure === 'status'`). */
  readonly response: FailedResponse | undefined

  constructor(failure: OriginFailure, options: { cause?: unknown; response?: FailedResponse } = {}) {
    const what =
      failure === 'status'
        ? `answered ${options.response?.status}`
        : failure === 'timeout'
          ? 'did not answer in time'
          : `${failure === 'broke' ? 'broke off its response' : 'threw'}: ${
              options.cause instanceof Error ? options.cause.message : String(options.cause)
            }`
    super(`the origin ${what}`, failure === 'timeout' ? 'TIERCACHE_HTTP_ORIGIN_TIMEOUT' : 'TIERCACHE_HTTP_ORIGIN', {
      cause: options.cause,
    })
    this.name = 'OriginError'
    this.failure = failure
    this.response = options.response
  }
}
