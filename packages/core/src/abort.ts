/**
 * Who still waits for one load, so its `ctx.signal` can abort once nobody
 * does. A caller without a signal can never leave: it pins the load. A load
 * with no entry here (a background refresh) is never aborted for lack of waiters.
 */
interface Waiting {
  readonly controller: AbortController
  /** Callers with a signal still waiting. */
  open: number
  /** A caller without a signal waits: the load runs to its end. */
  pinned: boolean
  /** Called when the last waiter left (so new callers start a new load rather than join this one). */
  readonly abandoned: () => void
}

/**
 * The waiters of running loads, by the load's promise (a WeakMap: nothing to
 * clean up when a load settles).
 */
export class Waiters {
  readonly #loads = new WeakMap<Promise<unknown>, Waiting>()

  /** `load` is aborted through `controller` when every caller waiting with a signal has aborted and none waits without one. */
  track(load: Promise<unknown>, controller: AbortController, abandoned: () => void): void {
    this.#loads.set(load, { controller, open: 0, pinned: false, abandoned })
  }

  /**
   * What one caller of `load` gets: `load` itself without a signal; with one,
   * a promise that rejects with the signal's reason when it aborts first (the
   * load goes on for the others, and is aborted when none is left).
   */
  wait<T>(load: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const waiting = this.#loads.get(load)
    if (signal === undefined) {
      if (waiting !== undefined) waiting.pinned = true
      return load
    }
    return abortable(
      load,
      signal,
      () => {
        if (waiting === undefined) return
        waiting.open -= 1
        if (waiting.open === 0 && !waiting.pinned && !waiting.controller.signal.aborted) {
          waiting.abandoned()
          waiting.controller.abort(signal.reason)
        }
      },
      () => {
        if (waiting !== undefined) waiting.open += 1
      },
    )
  }
}

/**
 * `promise`, or a rejection with `signal.reason` as soon as `signal` aborts
 * (at once when it already has). `left` runs when the caller leaves that way.
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  left: () => void = () => {},
  joined: () => void = () => {},
): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  joined()
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason)
      left()
    }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
