/** An emitter whose listener limit can be read and set (an ioredis client, a socket). */
export interface ListenerLimited {
  getMaxListeners(): number
  setMaxListeners(n: number): unknown
}

/**
 * Raise (or, negative, lower) `emitter`'s listener limit by `by`, for listeners a store adds and
 * takes off again at its close (or that the client's socket watch adds once, for good). Node
 * warns past 10 listeners per event: the stores sharing one client added 2 each to its 'ready',
 * and 1 each to its socket's 'data' and 'close', and the fifth store printed
 * "MaxListenersExceededWarning: Possible EventEmitter memory leak detected" for listeners that
 * are no leak. Lowered again at close, a real leak (one that outlives the stores) is still
 * warned of. A limit of 0 (none) is left as it is.
 */
export function allowListeners(emitter: ListenerLimited, by: number): void {
  if (typeof emitter.getMaxListeners !== 'function' || typeof emitter.setMaxListeners !== 'function') return
  const limit = emitter.getMaxListeners()
  if (limit === 0 || !Number.isFinite(limit)) return
  emitter.setMaxListeners(Math.max(1, limit + by))
}
