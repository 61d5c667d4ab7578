/** What propagation.ts tells a node process (argv[2], JSON). */
export interface NodeConfig {
  readonly name: string
  readonly role: 'writer' | 'reader'
  readonly port: number
  readonly namespace: string
  readonly key: string
  /** Writer: number of versions to write. */
  readonly count: number
  /** Writer: ms between two sets. */
  readonly intervalMs: number
  readonly maxStalenessMs: number
  /** The bus's coalescing window. */
  readonly coalesceMs: number
  /** Delay before the subscriber reconnects after its connection dies. */
  readonly subscriberRetryMs: number
  /** Writer: right after the set of this version resolved, block the event loop for `blockMs`. */
  readonly blockAfterVersion?: number
  readonly blockMs?: number
}

/**
 * One run of reads that returned the same version: [version, when the first one returned it, when the
 * last one started] (epoch ms).
 */
export type Segment = [version: number, firstAt: number, lastAt: number]

/** Parent → node. */
export type ParentMessage = { type: 'start' } | { type: 'stop' }

/** Node → parent. */
export type NodeMessage =
  | { type: 'ready' }
  | { type: 'written'; sets: [version: number, startedAt: number, doneAt: number][] }
  | {
      type: 'read'
      segments: Segment[]
      events: { disconnected: number; reconnected: number; gaps: number; errors: number }
    }
