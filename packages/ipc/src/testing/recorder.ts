import type { InvalidationHandler } from '@tiercache/core'

/** One call a bus made on a handler. */
export type HandlerCall =
  | { readonly method: 'invalidate'; readonly keys: readonly string[] }
  | { readonly method: 'invalidateAll' }
  | { readonly method: 'disconnected'; readonly maxStalenessMs: number }
  | { readonly method: 'reconnected' }

/** A handler that records what the bus told it, for assertions. */
export interface Recorder extends InvalidationHandler {
  /** Every call, in order. */
  readonly calls: HandlerCall[]
  /** Every key passed to `invalidate`, in order. */
  keys(): string[]
  /** How many calls of `method` were made. */
  count(method: HandlerCall['method']): number
  /** Resolve once `predicate` holds, reject after `timeoutMs`. */
  until(predicate: (calls: readonly HandlerCall[]) => boolean, timeoutMs?: number): Promise<void>
}

/** A new recording handler, to pass to `subscribe` and assert on what the bus delivered. */
export function recorder(): Recorder {
  const calls: HandlerCall[] = []
  let waiters: (() => void)[] = []
  const push = (call: HandlerCall) => {
    calls.push(call)
    const woken = waiters
    waiters = []
    for (const wake of woken) wake()
  }
  return {
    calls,
    invalidate: (keys) => push({ method: 'invalidate', keys: [...keys] }),
    invalidateAll: () => push({ method: 'invalidateAll' }),
    disconnected: (maxStalenessMs) => push({ method: 'disconnected', maxStalenessMs }),
    reconnected: () => push({ method: 'reconnected' }),
    keys: () => calls.flatMap((call) => (call.method === 'invalidate' ? call.keys : [])),
    count: (method) => calls.filter((call) => call.method === method).length,
    until(predicate, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`condition not met within ${timeoutMs} ms; calls: ${JSON.stringify(calls)}`)),
          timeoutMs,
        )
        const check = () => {
          if (predicate(calls)) {
            clearTimeout(timer)
            resolve()
          } else waiters.push(check)
        }
        check()
      })
    },
  }
}
