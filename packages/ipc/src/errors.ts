import { errorBrand, TierCacheError } from '@tiercache/core'

/** What the bus was doing when it failed. */
export type IpcOperation = 'publish' | 'subscribe' | 'decode' | 'handler'

/**
 * An invalidation bus failed. Never thrown by `publish` or by a received
 * message: it goes out as the bus's `error` event, and the caches keep serving
 * (the staleness bound covers what the failure may have cost).
 */
export class IpcError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.ipc.IpcError')
  /** What was being done when it failed. */
  readonly operation: IpcOperation
  /** The namespace concerned, when there is one. */
  readonly namespace: string | undefined

  constructor(operation: IpcOperation, cause: unknown, namespace?: string) {
    const where = namespace === undefined ? '' : ` (namespace "${namespace}")`
    super(`invalidation bus ${operation} failed${where}: ${describe(cause)}`, 'TIERCACHE_IPC', { cause })
    this.name = 'IpcError'
    this.operation = operation
    this.namespace = namespace
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}
