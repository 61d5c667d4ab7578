import { randomBytes } from 'node:crypto'
import { type Duration, parseDuration } from '@tiercache/core'

/** Options every transport takes. */
export interface IpcOptions {
  /**
   * This node's id in messages; messages carrying it are ignored on receipt.
   * Must be unique in the fleet, so leave it to the random default unless you
   * need stable ids in logs.
   * @default 12 random base64url characters
   */
  nodeId?: string
  /**
   * Invalidations published within this many ms go out as one message per
   * namespace (keys deduplicated). 0 sends every publish at once. The window
   * is also the delay added to every invalidation.
   * @default 2
   */
  coalesceMs?: Duration
  /**
   * A batch that reaches this many distinct keys is sent before its window
   * closes, so a message stays small.
   * @default 500
   */
  maxBatchKeys?: number
}

/** Defaults of `IpcOptions`. */
export const IPC_DEFAULTS = {
  coalesceMs: 2,
  maxBatchKeys: 500,
} as const

/** `IpcOptions` validated, with defaults applied. */
export interface ResolvedIpcOptions {
  readonly nodeId: string
  readonly coalesceMs: number
  readonly maxBatchKeys: number
}

/** Validate the shared options. Throws `TypeError` naming the bad option. */
export function resolveIpcOptions(options: IpcOptions): ResolvedIpcOptions {
  const nodeId = options.nodeId ?? randomBytes(9).toString('base64url')
  if (typeof nodeId !== 'string' || nodeId === '') throw new TypeError('options.nodeId must be a non-empty string')
  const coalesceMs = parseDuration(options.coalesceMs ?? IPC_DEFAULTS.coalesceMs, 'options.coalesceMs')
  const maxBatchKeys = options.maxBatchKeys ?? IPC_DEFAULTS.maxBatchKeys
  if (!Number.isSafeInteger(maxBatchKeys) || maxBatchKeys < 1) {
    throw new TypeError('options.maxBatchKeys must be an integer >= 1')
  }
  return { nodeId, coalesceMs, maxBatchKeys }
}
