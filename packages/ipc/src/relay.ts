import { INVALIDATION_KINDS, type InvalidationEvent, type InvalidationHandler } from '@tiercache/core'
import type { EventEmitter } from 'eventemitter3'
import { IpcError } from './errors.js'
import type { IpcEvents } from './events.js'
import { decodeMessage, type InvalidationMessage, isHeartbeat } from './message.js'
import type { ResolvedIpcOptions } from './options.js'
import { Outbox, type SendMessage } from './outbox.js'
import { SequenceTracker } from './sequence-tracker.js'

/** What a transport gives the relay. */
export interface RelayOptions extends ResolvedIpcOptions {
  /** Passed to `handler.disconnected` while a namespace is down. */
  readonly maxStalenessMs: number
  /** Where errors and state changes are reported (the transport itself). */
  readonly events: EventEmitter<IpcEvents>
  /** Put one encoded message on the wire. Must not throw; report failures as `error` events. */
  readonly send: SendMessage
  /** Whether a namespace is live as soon as its first cache subscribes (BroadcastChannel), or only once the transport says so (Redis). */
  readonly liveOnSubscribe: boolean
  /** The first cache of `namespace` subscribed. */
  readonly onNamespaceAdded?: (namespace: string) => void
  /** The last cache of `namespace` unsubscribed. */
  readonly onNamespaceRemoved?: (namespace: string) => void
  /** One of this node's own heartbeats came back; `at` is when it left (`performance.now()`), when it says. */
  readonly onEcho?: (namespace: string, at: number | undefined) => void
}

/**
 * Everything a transport does that is not moving bytes: coalescing and
 * numbering what goes out (`Outbox`); decoding what comes in, dropping this
 * node's own messages, spotting lost ones (`SequenceTracker`) and calling the
 * subscribed caches; and keeping each namespace's up/down state, so a cache
 * hears `disconnected` and `reconnected` exactly once per outage.
 */
export class InvalidationRelay {
  readonly #options: RelayOptions
  readonly #outbox: Outbox
  readonly #sequences = new SequenceTracker()
  readonly #handlers = new Map<string, Set<InvalidationHandler>>()
  /** Namespaces whose messages may currently be missed. */
  readonly #down = new Set<string>()
  /**
   * Per live namespace, when (`performance.now()`) the last heartbeat that came back
   * left: a cache subscribing to a namespace that is already live is told it, so
   * it bounds its L1 trust like its siblings do rather than not at all.
   */
  readonly #confirmedAt = new Map<string, number>()

  constructor(options: RelayOptions) {
    this.#options = options
    this.#outbox = new Outbox(options)
  }

  /** The namespaces at least one cache listens to. */
  namespaces(): IterableIterator<string> {
    return this.#handlers.keys()
  }

  /** True while `namespace` has subscribers. */
  has(namespace: string): boolean {
    return this.#handlers.has(namespace)
  }

  /**
   * `InvalidationBus.publish`: validate, tell the other caches of the
   * namespace in this process at once when `from` names the publishing one
   * (this node drops its own messages when they come back, so they would never
   * hear it), then queue for the other nodes.
   * Resolves once sent; reports bad input as an `error` event, never throws.
   */
  publish(event: InvalidationEvent, from?: InvalidationHandler): Promise<void> | undefined {
    if (!this.#valid(event)) return undefined
    this.#tellSiblings(event, from)
    return this.#outbox.add(event)
  }

  /**
   * `InvalidationBus.announcement`: `event` as one message for the store to
   * publish with its write; `undefined` (reported) when the event is bad.
   */
  announcement(event: InvalidationEvent): Uint8Array | undefined {
    if (!this.#valid(event) || (event.kind !== 'purge' && event.keys.length === 0)) return undefined
    return this.#outbox.announcement(event)
  }

  /** `InvalidationBus.announced`: the store sent it; tell the local siblings of `from` only. */
  announced(event: InvalidationEvent, from?: InvalidationHandler): void {
    if (this.#valid(event)) this.#tellSiblings(event, from)
  }

  #valid(event: InvalidationEvent): boolean {
    try {
      validateEvent(event)
      return true
    } catch (error) {
      this.#error('publish', error, typeof event?.namespace === 'string' ? event.namespace : undefined)
      return false
    }
  }

  #tellSiblings(event: InvalidationEvent, from: InvalidationHandler | undefined): void {
    // Without `from` the publisher is the node itself, which hears none of its own changes (as before).
    const siblings = from === undefined ? undefined : this.#handlers.get(event.namespace)
    if (siblings !== undefined && siblings.size > 1) {
      for (const handler of siblings) {
        if (handler === from) continue
        if (event.kind === 'purge') this.#call(event.namespace, handler, 'invalidateAll')
        else this.#call(event.namespace, handler, 'invalidate', event.keys)
      }
    }
  }

  /** Send what is queued now (on close, or before a test counts messages). */
  flush(): void {
    this.#outbox.flush()
  }

  /** Send a heartbeat on `namespace`, stamped with when it leaves. */
  heartbeat(namespace: string): void {
    this.#outbox.heartbeat(namespace, performance.now())
  }

  /**
   * One of this node's heartbeats, sent `ageMs` ago, came back on
   * `namespace`: everything published and acknowledged before it left has
   * been delivered. The caches may trust their L1 until `maxStalenessMs` after that.
   */
  confirm(namespace: string, ageMs: number): void {
    const handlers = this.#handlers.get(namespace)
    if (handlers === undefined) return
    if (!this.#down.has(namespace)) this.#confirmedAt.set(namespace, performance.now() - ageMs)
    for (const handler of handlers) {
      try {
        handler.confirmed?.(ageMs, this.#options.maxStalenessMs)
      } catch (error) {
        this.#error('handler', error, namespace)
      }
    }
  }

  /** `InvalidationBus.subscribe`. Throws `TypeError` on bad arguments (a programming error, at construction time). */
  subscribe(namespace: string, handler: InvalidationHandler): () => void {
    if (typeof namespace !== 'string') throw new TypeError('namespace must be a string')
    if (!isHandler(handler)) throw new TypeError('handler must implement InvalidationHandler')
    let handlers = this.#handlers.get(namespace)
    const added = handlers === undefined
    if (handlers === undefined) {
      handlers = new Set()
      this.#handlers.set(namespace, handlers)
      if (!this.#options.liveOnSubscribe) this.#down.add(namespace)
    }
    handlers.add(handler)
    if (this.#down.has(namespace)) {
      // Not from inside subscribe(): the cache may still be in its constructor.
      // A microtask runs before any I/O, so nothing can be read into L1 first.
      queueMicrotask(() => {
        if (handlers.has(handler) && this.#down.has(namespace)) this.#call(namespace, handler, 'disconnected')
      })
    } else if (!added) {
      // Live already: no 'disconnected' and no 'reconnected' will reach this cache, and the
      // next confirmation may be a heartbeat away. Without this it trusted its L1 unbounded
      // until then: a process paused in that window served L1 from before the pause.
      queueMicrotask(() => {
        const at = this.#confirmedAt.get(namespace)
        if (at === undefined || !handlers.has(handler) || this.#down.has(namespace)) return
        try {
          handler.confirmed?.(Math.max(0, performance.now() - at), this.#options.maxStalenessMs)
        } catch (error) {
          this.#error('handler', error, namespace)
        }
      })
    }
    if (added) this.#options.onNamespaceAdded?.(namespace)
    let subscribed = true
    return () => {
      if (!subscribed) return
      subscribed = false
      handlers.delete(handler)
      if (handlers.size > 0 || this.#handlers.get(namespace) !== handlers) return
      this.#handlers.delete(namespace)
      this.#down.delete(namespace)
      this.#confirmedAt.delete(namespace)
      this.#sequences.forget(namespace)
      this.#outbox.forget(namespace)
      this.#options.onNamespaceRemoved?.(namespace)
    }
  }

  /**
   * Bytes arrived. `channelNamespace` is the namespace the transport's channel
   * belongs to, when it has one per namespace: an unreadable message there is
   * a lost message for that namespace.
   */
  receive(bytes: Uint8Array, channelNamespace?: string): void {
    let message: InvalidationMessage
    try {
      message = decodeMessage(bytes)
      if (channelNamespace !== undefined && message.ns !== channelNamespace) {
        throw new TypeError(`message for namespace "${message.ns}" on the channel of "${channelNamespace}"`)
      }
    } catch (error) {
      this.#error('decode', error, channelNamespace)
      // We cannot tell what it invalidated, so treat it as lost.
      const lost = channelNamespace === undefined ? [...this.#handlers.keys()] : [channelNamespace]
      for (const namespace of lost) this.#dispatch(namespace, 'invalidateAll')
      return
    }
    if (message.node === this.#options.nodeId) {
      if (isHeartbeat(message)) this.#options.onEcho?.(message.ns, message.at)
      return
    }
    if (!this.#handlers.has(message.ns)) return
    // Published by the store with the write: lost only with the write, so no sequence to check.
    const heartbeat = isHeartbeat(message)
    if (message.store === true && !heartbeat) {
      this.#apply(message)
      return
    }
    const verdict = this.#sequences.observe(message.node, message.ns, message.seq, heartbeat)
    if (verdict === 'gap') {
      this.#options.events.emit('gap', { namespace: message.ns, sender: message.node, seq: message.seq })
      // Dropping all of L1 covers the ops of this message too.
      this.#dispatch(message.ns, 'invalidateAll')
      return
    }
    this.#apply(message)
  }

  #apply(message: InvalidationMessage): void {
    for (const op of message.ops) {
      if (op.kind === 'purge') this.#dispatch(message.ns, 'invalidateAll')
      else this.#dispatch(message.ns, 'invalidate', op.keys)
    }
  }

  /** The transport may be missing messages for `namespace`: its caches bound their L1 trust until `markUp`. */
  markDown(namespace: string, reason: string): void {
    if (!this.#handlers.has(namespace) || this.#down.has(namespace)) return
    this.#down.add(namespace)
    this.#confirmedAt.delete(namespace)
    this.#options.events.emit('disconnected', { namespace, reason })
    this.#dispatch(namespace, 'disconnected')
  }

  /** The transport receives `namespace` again: its caches drop their L1. */
  markUp(namespace: string): void {
    if (!this.#down.delete(namespace)) return
    this.#sequences.forget(namespace)
    this.#options.events.emit('reconnected', { namespace })
    this.#dispatch(namespace, 'reconnected')
  }

  /** True while `namespace` is down. */
  isDown(namespace: string): boolean {
    return this.#down.has(namespace)
  }

  #dispatch(namespace: string, method: Notice, keys?: readonly string[]): void {
    const handlers = this.#handlers.get(namespace)
    if (handlers === undefined) return
    for (const handler of handlers) this.#call(namespace, handler, method, keys)
  }

  #call(namespace: string, handler: InvalidationHandler, method: Notice, keys?: readonly string[]) {
    try {
      if (method === 'invalidate') handler.invalidate(keys ?? [])
      else if (method === 'disconnected') handler.disconnected(this.#options.maxStalenessMs)
      else handler[method]()
    } catch (error) {
      this.#error('handler', error, namespace)
    }
  }

  #error(operation: IpcError['operation'], cause: unknown, namespace?: string): void {
    this.#options.events.emit('error', new IpcError(operation, cause, namespace))
  }
}

/** What the relay tells a handler, besides `confirmed`. */
type Notice = Exclude<keyof InvalidationHandler, 'confirmed'>

const KINDS: ReadonlySet<string> = new Set(INVALIDATION_KINDS)

function validateEvent(event: InvalidationEvent): void {
  if (typeof event !== 'object' || event === null) throw new TypeError('event must be an object')
  if (!KINDS.has(event.kind)) throw new TypeError(`event.kind must be one of ${INVALIDATION_KINDS.join(', ')}`)
  if (typeof event.namespace !== 'string') throw new TypeError('event.namespace must be a string')
  if (!Array.isArray(event.keys) || !event.keys.every((key) => typeof key === 'string')) {
    throw new TypeError('event.keys must be a list of strings')
  }
}

function isHandler(handler: unknown): handler is InvalidationHandler {
  if (typeof handler !== 'object' || handler === null) return false
  const h = handler as Record<string, unknown>
  return ['invalidate', 'invalidateAll', 'disconnected', 'reconnected'].every((m) => typeof h[m] === 'function')
}
