import type { InvalidationEvent, InvalidationKind } from '@tiercache/core'
import { encodeMessage, type InvalidationOp, WIRE_VERSION } from './message.js'

/**
 * How the outbox hands a finished message to its transport. May return a
 * promise that settles once the message has left this process (it must not
 * reject: the transport reports its own failures). `false` (returned or
 * resolved) says the message was not sent.
 */
export type SendMessage = (namespace: string, bytes: Uint8Array) => undefined | boolean | Promise<undefined | boolean>

/** What an `Outbox` needs. */
export interface OutboxOptions {
  readonly nodeId: string
  /** Invalidations within this many ms go out as one message per namespace; 0 sends each at once. */
  readonly coalesceMs: number
  /** A namespace whose batch reaches this many keys is sent before the window ends. */
  readonly maxBatchKeys: number
  readonly send: SendMessage
}

/** Keys waiting to go out for one namespace, each with the last kind of change it saw; or a purge, which covers them all. */
type Pending = Map<string, InvalidationKind> | 'purge'

/**
 * Collects local changes, coalesces them and numbers the messages.
 *
 * Within one window, repeated changes of a key collapse to one entry (an
 * evict is an evict, whatever changed the key), and a purge swallows every
 * key of its namespace. Under load, a node changing the same hot keys
 * thousands of times a second sends a few hundred small messages, not
 * thousands.
 */
export class Outbox {
  readonly #options: OutboxOptions
  readonly #pending = new Map<string, Pending>()
  /** Per namespace, who waits for the pending batch to be sent (the `set`s that made it). */
  readonly #waiting = new Map<string, (() => void)[]>()
  /** Last sequence number sent per namespace, while it has caches (see `forget`). */
  readonly #seq = new Map<string, number>()
  /**
   * The highest number ever sent on a namespace that was forgotten: where every
   * namespace without a number starts. A namespace that comes back never reuses
   * numbers the other nodes have seen (they would drop its messages as old); they
   * see a gap instead, and drop their copies of it, which is safe.
   */
  #floor = 0
  /** Namespaces with a message that failed to go out: their next message is a purge (see `#failed`). */
  readonly #owed = new Set<string>()
  #timer: NodeJS.Timeout | undefined

  constructor(options: OutboxOptions) {
    this.#options = options
  }

  /**
   * Queue one local change; it goes out when the window closes (or now, when
   * coalescing is off or the batch is full). Resolves once the message that
   * carries it has been sent (as far as the transport tells).
   */
  add(event: InvalidationEvent): Promise<void> {
    const { namespace } = event
    // Nothing changed; and an empty message would read as a heartbeat.
    if (event.kind !== 'purge' && event.keys.length === 0) return Promise.resolve()
    // A purge owed since a cache of this namespace left goes out with its next change (see `#failed`).
    const pending = this.#merge(this.#owed.has(namespace) ? 'purge' : this.#pending.get(namespace), event)
    this.#pending.set(namespace, pending)
    const sent = new Promise<void>((resolve) => {
      const waiting = this.#waiting.get(namespace)
      if (waiting === undefined) this.#waiting.set(namespace, [resolve])
      else waiting.push(resolve)
    })
    if (this.#options.coalesceMs === 0 || (pending !== 'purge' && pending.size >= this.#options.maxBatchKeys)) {
      this.#flushNamespace(namespace)
    } else {
      this.#timer ??= setTimeout(() => this.flush(), this.#options.coalesceMs)
    }
    return sent
  }

  /**
   * Send a heartbeat for `namespace`: no change, the last sequence number (0
   * before any message), and `at`, the sender's monotonic time.
   */
  heartbeat(namespace: string, at: number): void {
    // A purge owed for a lost message goes out first, at the pace of the heartbeats
    // (not at once: a publisher that keeps failing would make it a busy loop).
    if (this.#owed.has(namespace)) {
      this.#pending.set(namespace, 'purge')
      this.#flushNamespace(namespace)
    }
    this.#send(namespace, this.#seq.get(namespace) ?? this.#floor, [], at)
  }

  /**
   * The last cache of `namespace` on this node left: send what is pending for
   * it now and drop its number, so caches of ever new names do not grow this
   * outbox forever.
   */
  forget(namespace: string): void {
    this.#flushNamespace(namespace)
    const seq = this.#seq.get(namespace)
    if (seq === undefined) return
    this.#floor = Math.max(this.#floor, seq)
    this.#seq.delete(namespace)
    // An owed purge is kept (it was flushed just above unless its failure is yet to be known):
    // the other nodes still need it if a cache of the name comes back here.
  }

  /** Namespaces with a number kept (for tests of the bound). */
  get namespaces(): number {
    return this.#seq.size
  }

  /**
   * `event` as one message for the shared store to publish with the write
   * (`store: true`): not coalesced, not numbered (it repeats the last `seq`).
   * Nothing is queued or sent here.
   */
  announcement(event: InvalidationEvent): Uint8Array {
    const { namespace } = event
    const ops =
      event.kind === 'purge' ? [{ kind: 'purge' as const, keys: [] }] : [{ kind: event.kind, keys: event.keys }]
    const seq = this.#seq.get(namespace) ?? 0
    return encodeMessage({ v: WIRE_VERSION, node: this.#options.nodeId, ns: namespace, seq, ops, store: true })
  }

  /** Send everything pending now. */
  flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const namespace of [...this.#pending.keys()]) this.#flushNamespace(namespace)
  }

  #merge(pending: Pending | undefined, event: InvalidationEvent): Pending {
    if (event.kind === 'purge' || pending === 'purge') return 'purge'
    const keys = pending ?? new Map<string, InvalidationKind>()
    for (const key of event.keys) keys.set(key, event.kind)
    return keys
  }

  #flushNamespace(namespace: string): void {
    const pending = this.#pending.get(namespace)
    if (pending === undefined) return
    this.#pending.delete(namespace)
    const waiting = this.#waiting.get(namespace)
    this.#waiting.delete(namespace)
    const seq = (this.#seq.get(namespace) ?? this.#floor) + 1
    this.#seq.set(namespace, seq)
    this.#owed.delete(namespace)
    const sent = this.#send(namespace, seq, pending === 'purge' ? [{ kind: 'purge', keys: [] }] : groupByKind(pending))
    const done = (result: undefined | boolean) => {
      if (result === false) this.#failed(namespace)
      if (waiting !== undefined) for (const resolve of waiting) resolve()
    }
    if (sent instanceof Promise) sent.then(done, () => done(false))
    else done(sent)
  }

  /**
   * A message of `namespace` did not go out. Receivers notice only when its
   * number is skipped between two they receive: not when they had not heard
   * this sender before (a node whose first publish failed), nor when a new
   * outbox under the same nodeId starts again from 1 below what they saw (a
   * restart with a stable id: its numbers read as old). So the next message
   * of the namespace is a purge, whatever else it carries: every receiver
   * drops its L1 of the namespace. Sent with the next change or heartbeat.
   */
  #failed(namespace: string): void {
    this.#owed.add(namespace)
    // Forgotten meanwhile (its last cache left before the failure was known): owed all the same,
    // sent with the namespace's next message should a cache of it come back. Dropped before, that
    // next message was a plain one, and a receiver that had never heard this node took it as its
    // first and never learnt of the loss (the key kept in its L1 until TTL).
    if (this.#seq.has(namespace)) this.#pending.set(namespace, 'purge')
  }

  #send(
    namespace: string,
    seq: number,
    ops: readonly InvalidationOp[],
    at?: number,
  ): undefined | boolean | Promise<undefined | boolean> {
    const message = { v: WIRE_VERSION, node: this.#options.nodeId, ns: namespace, seq, ops } as const
    const bytes = encodeMessage(at === undefined ? message : { ...message, at })
    return this.#options.send(namespace, bytes)
  }
}

function groupByKind(keys: Map<string, InvalidationKind>): InvalidationOp[] {
  const byKind = new Map<InvalidationKind, string[]>()
  for (const [key, kind] of keys) {
    const list = byKind.get(kind)
    if (list === undefined) byKind.set(kind, [key])
    else list.push(key)
  }
  return [...byKind].map(([kind, list]) => ({ kind, keys: list }))
}
