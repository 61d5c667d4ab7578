/**
 * Messages between the faults suite (parent) and its node processes
 * (fleet-node.ts). Types only: both sides import them, nothing runs.
 */
import type { OperationKind } from '../history/history.js'

/** How a node process connects; fixed for its lifetime. */
export interface NodeConfig {
  /** The node's name in the history (A, B, C...). */
  readonly name: string
  readonly url: string
  /** RedisStore prefix and pub/sub channel, private to the suite. */
  readonly prefix: string
  readonly channel: string
  readonly maxStalenessMs: number
}

/** One workload: a fresh cache on its own namespace, random calls until `stop`. */
export interface Workload {
  readonly namespace: string
  readonly keys: readonly string[]
  readonly ttl: number
  readonly staleTtl: number
  readonly loaderMs: number
  /** Concurrent call loops on the node. */
  readonly concurrency: number
  /** Each loop waits a random 0..thinkMs between calls. */
  readonly thinkMs: number
  /** Relative weights of the calls. */
  readonly mix: Readonly<Record<OperationKind, number>>
}

/** Parent → node. */
export type ParentMessage =
  | { readonly type: 'run'; readonly workload: Workload }
  /** Stop starting calls; wait for those running (at most `graceMs`), then report `stopped`. */
  | { readonly type: 'stop'; readonly graceMs: number }
  /** Read every key once, one after the other, then report `final-done`. */
  | { readonly type: 'final' }
  /** Close the workload's cache (its bus subscription) and report `closed`. */
  | { readonly type: 'close' }
  /** Busy-loop the event loop for `ms` now. */
  | { readonly type: 'block'; readonly ms: number }
  /** Busy-loop for `ms` right after the next `set` resolves (before anything else runs). */
  | { readonly type: 'block-after-set'; readonly ms: number }
  /** Read `key` once now (as the workload would), then report `read-done`. */
  | { readonly type: 'read'; readonly key: string }
  /** Set `key`, report it, and die (SIGKILL) at once, before the bus publishes the set. */
  | { readonly type: 'set-and-die'; readonly key: string }
  | { readonly type: 'exit' }

/** Node → parent. Times are `hostNow()` (host-clock.ts). */
export type NodeMessage =
  | { readonly type: 'ready'; readonly pid: number }
  | {
      readonly type: 'invoke'
      readonly id: string
      readonly kind: OperationKind
      readonly key?: string
      readonly value?: string
      readonly at: number
    }
  | {
      readonly type: 'complete'
      readonly id: string
      readonly at: number
      readonly ok: boolean
      readonly value?: string
      readonly hitLevel?: number
      readonly error?: string
    }
  | {
      readonly type: 'load'
      readonly key: string
      readonly value: string
      readonly at: number
      /** When the last store read of the key that completed before this loader call was sent. */
      readonly decidedAt?: number
    }
  | { readonly type: 'loaded'; readonly value: string; readonly at: number }
  | { readonly type: 'blocked'; readonly from: number; readonly to: number }
  /** The node's RedisStore emitted a `warning` (an evicting `maxmemory-policy`, found at a connection). */
  | { readonly type: 'warning'; readonly code: string; readonly policy?: string; readonly at: number }
  | { readonly type: 'stopped' }
  | { readonly type: 'final-done' }
  | { readonly type: 'read-done' }
  | { readonly type: 'closed' }
