/**
 * The contract between the core and an invalidation bus (the `ipc` option).
 *
 * Every node keeps its own L1. When one node changes a key (set, delete,
 * refresh, purge), the others must drop their L1 copy and re-read the shared
 * store. The core publishes what changed locally and applies what arrives.
 * `@tiercache/ipc` implements it over Redis pub/sub and over BroadcastChannel.
 */

/** Every kind of change a bus carries; `purge` concerns the whole namespace and has no keys. */
export const INVALIDATION_KINDS = ['set', 'delete', 'refresh', 'purge'] as const

/** What changed: one of {@link INVALIDATION_KINDS}. */
export type InvalidationKind = (typeof INVALIDATION_KINDS)[number]

/** One local change the core asks the bus to broadcast. */
export interface InvalidationEvent {
  readonly kind: InvalidationKind
  readonly namespace: string
  /** The keys concerned; empty for `purge`. */
  readonly keys: readonly string[]
}

/** What a bus tells one subscribed cache. */
export interface InvalidationHandler {
  /** Another node changed these keys: evict them from L1 (do not overwrite). */
  invalidate(keys: readonly string[]): void
  /** Another node purged the namespace: drop all of L1. */
  invalidateAll(): void
  /**
   * The bus lost its connection: messages may be missed from now on. Until
   * `reconnected`, the cache must not serve an L1 entry older than
   * `maxStalenessMs` (it re-reads the shared store instead).
   */
  disconnected(maxStalenessMs: number): void
  /** The bus is back; anything may have been missed, so the cache drops its L1. */
  reconnected(): void
  /**
   * Optional; called by a bus with heartbeats each time one of its own makes
   * the round trip. Every invalidation whose publish was acknowledged before
   * that heartbeat left (`ageMs` ago) has been delivered to this handler. The
   * cache trusts its L1 until `maxStalenessMs` after that instant; past it (its
   * process was paused, its event loop blocked, the connection died
   * silently) it serves no L1 entry until the bus confirms again, even before
   * it has read the messages waiting in its socket. A bus that never calls it
   * (in-process delivery) is trusted until `disconnected`.
   */
  confirmed?(ageMs: number, maxStalenessMs: number): void
}

/**
 * An invalidation a store publishes itself, in the same atomic step as the
 * write it announces (a Lua script on Redis), so that no death of the writing
 * process can come between the write and the message. Built by the bus
 * ({@link InvalidationBus.announcement}), accepted or not by the store
 * (`SharedStore.announces`); the core only carries it.
 */
export interface Announcement {
  /** The connection the bus publishes with: a store publishes only when it writes through the same one. */
  readonly via: object
  /** Where the bus's subscribers listen. */
  readonly channel: string
  /** The message, as the bus's receivers decode it. */
  readonly message: Uint8Array
  /** Sharded pub/sub (`SPUBLISH`) rather than `PUBLISH`. */
  readonly sharded: boolean
}

/** A transport that carries invalidations between nodes. */
export interface InvalidationBus {
  /**
   * Broadcast a local change to the other nodes. With `from` (the handler the
   * publishing cache subscribed with), also at once to the other caches of
   * `event.namespace` on this bus in this process: a node ignores its own
   * messages, so its local siblings would otherwise never hear them. Without
   * `from`, no subscriber of this bus hears it (the publisher is the node).
   *
   * May return a promise that settles once the change has left this process
   * (Redis: the PUBLISH acknowledged, so every subscriber has it in its
   * socket). The cache's `set`/`delete`/`purge` resolve only then: a writer
   * whose event loop blocks right after has already sent its invalidation.
   * Never rejects and never throws: failures go out as the bus's own events.
   */
  publish(event: InvalidationEvent, from?: InvalidationHandler): void | Promise<void>
  /**
   * Receive changes made by other nodes for `namespace` (never this node's own).
   * Returns a function that unsubscribes.
   */
  subscribe(namespace: string, handler: InvalidationHandler): () => void
  /**
   * Optional: `event` as a message the store can publish itself, atomically
   * with the write (see {@link Announcement}); `undefined` when the bus cannot
   * (closed, or its transport has no such form). When the store took it and
   * the write resolved, the cache calls {@link announced} instead of
   * {@link publish}. Never throws.
   */
  announcement?(event: InvalidationEvent): Announcement | undefined
  /**
   * The store published `event` with its write (an {@link announcement}):
   * tell the other caches of the namespace on this bus in this process,
   * except `from`, as {@link publish} does; send nothing. Never throws.
   */
  announced?(event: InvalidationEvent, from?: InvalidationHandler): void
}

/**
 * Throws a `TypeError` naming `argName` unless `value` has the methods of an
 * {@link InvalidationBus}.
 */
export function checkBus(value: unknown, argName: string): asserts value is InvalidationBus {
  const bus = value as Partial<Record<keyof InvalidationBus, unknown>> | null
  if (typeof value !== 'object' || typeof bus?.publish !== 'function' || typeof bus.subscribe !== 'function') {
    throw new TypeError(`${argName} must be an InvalidationBus (publish and subscribe methods)`)
  }
}
