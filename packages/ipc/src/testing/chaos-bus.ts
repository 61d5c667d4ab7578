import type { InvalidationEvent, InvalidationHandler } from '@tiercache/core'
import { EventEmitter } from 'eventemitter3'
import type { IpcEvents } from '../events.js'
import type { TestBus } from './conformance.js'

/**
 * How a {@link ChaosBus} treats what it receives right now: `ok` delivers,
 * `drop` loses each message silently, `delay` delivers it `delayMs` later,
 * `disconnect` acts as a lost connection (handlers are told `disconnected`,
 * messages are lost, and `reconnected` follows when the mode leaves
 * `disconnect`).
 */
export type ChaosBusMode = 'ok' | 'drop' | 'delay' | 'disconnect'

/** Options of a {@link ChaosBus}. */
export interface ChaosBusOptions {
  /** Delay of a message in `delay` mode. @default 100 */
  delayMs?: number
  /** The bound passed to `disconnected` in `disconnect` mode. @default 1000 */
  maxStalenessMs?: number
}

/**
 * Wraps a bus and makes the messages it delivers to this node's handlers
 * vanish, arrive late or stop on demand, to test how a cache (or an app)
 * copes (as `ChaosStore` of `@tiercache/core/testing` does for stores).
 * Publishing goes to the wrapped bus unchanged. A `drop` happens after the
 * transport's own loss detection, so it is a loss the transport cannot see:
 * use `disconnect` for one it reports.
 */
export class ChaosBus extends EventEmitter<IpcEvents> implements TestBus {
  /** Delay of a message in `delay` mode; change it at any time. */
  delayMs: number
  /** Messages received by this wrapper (delivered, delayed or lost), by handler method. */
  readonly received = new Map<'invalidate' | 'invalidateAll', number>()
  readonly #inner: TestBus
  readonly #maxStalenessMs: number
  readonly #handlers = new Map<InvalidationHandler, { namespace: string; chaotic: InvalidationHandler }>()
  readonly #timers = new Set<NodeJS.Timeout>()
  #mode: ChaosBusMode = 'ok'

  constructor(inner: TestBus, options: ChaosBusOptions = {}) {
    super()
    if (inner === null || typeof inner !== 'object' || typeof inner.subscribe !== 'function') {
      throw new TypeError('inner must be an invalidation bus')
    }
    this.#inner = inner
    this.delayMs = options.delayMs ?? 100
    this.#maxStalenessMs = options.maxStalenessMs ?? 1000
    // The wrapped bus's events are this bus's events.
    inner.on('error', (error) => this.emit('error', error))
    inner.on('disconnected', (info) => this.emit('disconnected', info))
    inner.on('reconnected', (info) => this.emit('reconnected', info))
    inner.on('gap', (info) => this.emit('gap', info))
  }

  /** Current behaviour; change it at any time. Entering or leaving `disconnect` tells every handler. */
  get mode(): ChaosBusMode {
    return this.#mode
  }
  set mode(mode: ChaosBusMode) {
    const was = this.#mode
    this.#mode = mode
    if (was !== 'disconnect' && mode === 'disconnect') {
      for (const [handler, { namespace }] of this.#handlers) {
        this.emit('disconnected', { namespace, reason: 'chaos' })
        handler.disconnected(this.#maxStalenessMs)
      }
    } else if (was === 'disconnect' && mode !== 'disconnect') {
      for (const [handler, { namespace }] of this.#handlers) {
        this.emit('reconnected', { namespace })
        handler.reconnected()
      }
    }
  }

  /** Publish through the wrapped bus; `from`, a handler subscribed here, is not told its own change. */
  publish(event: InvalidationEvent, from?: InvalidationHandler): void | Promise<void> {
    // The wrapped bus knows the handler by the wrapper it was subscribed with.
    return this.#inner.publish(event, from === undefined ? undefined : (this.#handlers.get(from)?.chaotic ?? from))
  }

  /** Subscribe on the wrapped bus, with what it delivers passed through the current mode. */
  subscribe(namespace: string, handler: InvalidationHandler): () => void {
    const chaotic: InvalidationHandler = {
      invalidate: (keys) => this.#deliver('invalidate', () => handler.invalidate(keys)),
      invalidateAll: () => this.#deliver('invalidateAll', () => handler.invalidateAll()),
      // The wrapped bus's own connection news passes unchanged.
      disconnected: (maxStalenessMs) => handler.disconnected(maxStalenessMs),
      reconnected: () => handler.reconnected(),
    }
    // A handler that is not one goes to the wrapped bus as is, which throws naming the argument.
    const unsubscribe = this.#inner.subscribe(namespace, isHandler(handler) ? chaotic : handler)
    this.#handlers.set(handler, { namespace, chaotic })
    return () => {
      this.#handlers.delete(handler)
      unsubscribe()
    }
  }

  /** Flush the wrapped bus. */
  flush(): void {
    this.#inner.flush()
  }

  /** Cancel delayed deliveries and close the wrapped bus. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#handlers.clear()
    await this.#inner.close()
  }

  #deliver(method: 'invalidate' | 'invalidateAll', call: () => void): void {
    this.received.set(method, (this.received.get(method) ?? 0) + 1)
    if (this.#mode === 'ok') call()
    else if (this.#mode === 'delay') {
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        call()
      }, this.delayMs)
      this.#timers.add(timer)
    }
  }
}

function isHandler(value: unknown): value is InvalidationHandler {
  const handler = value as InvalidationHandler | null
  return (
    typeof handler === 'object' &&
    handler !== null &&
    typeof handler.invalidate === 'function' &&
    typeof handler.invalidateAll === 'function' &&
    typeof handler.disconnected === 'function' &&
    typeof handler.reconnected === 'function'
  )
}
