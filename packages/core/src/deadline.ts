/**
 * Settles like `promise`, unless `ms` pass first: then like `fallback()` (a
 * value, or a throw). The timer never keeps the process alive and is cleared
 * on settle. `ms <= 0` or not finite: no timer.
 */
export function orAfter<T>(promise: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  if (ms <= 0 || !Number.isFinite(ms)) return promise
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        resolve(fallback())
      } catch (error) {
        reject(error)
      }
    }, ms)
    timer.unref?.()
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

/** Races `promise` against a timer; on time-out it rejects with what `onTimeout` returns. */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return orAfter(promise, ms, () => {
    throw onTimeout()
  })
}

/** A promise settled from outside (Node 20 has no `Promise.withResolvers`). */
export interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
  reject(error: unknown): void
}

/** Create a {@link Deferred}. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
