import { BroadcastChannel } from 'node:worker_threads'
import {
  checkOptionNames,
  type InvalidationBus,
  type InvalidationEvent,
  type InvalidationHandler,
  optionNames,
} from '@tiercache/core'
import { EventEmitter } from 'eventemitter3'
import { IpcError } from './errors.js'
import type { IpcEvents } from './events.js'
import { type IpcOptions, resolveIpcOptions } from './options.js'
import { InvalidationRelay } from './relay.js'

/** Options of `BroadcastChannelIpc`. */
export interface BroadcastChannelIpcOptions extends IpcOptions {
  /**
   * Name of the `BroadcastChannel`; every thread that uses the same name
   * hears the others.
   * @example 'tiercache'
   */
  channel: string
}

const OPTION_NAMES = optionNames<BroadcastChannelIpcOptions>({
  nodeId: true,
  coalesceMs: true,
  maxBatchKeys: true,
  channel: true,
})

/**
 * Carries L1 invalidations between the worker threads of one process over a
 * `worker_threads` `BroadcastChannel`, without Redis. Delivery is in-process,
 * so the bus is never disconnected; it still numbers messages, coalesces and
 * ignores its own, through the same relay as `RedisPubSubIpc`.
 *
 * @example
 * // in every worker
 * const ipc = new BroadcastChannelIpc({ channel: 'tiercache' })
 * const users = new TierCache({ name: 'users', store, ipc })
 */
export class BroadcastChannelIpc extends EventEmitter<IpcEvents> implements InvalidationBus {
  /** This node's id, as carried by its messages. */
  readonly nodeId: string
  readonly #channel: BroadcastChannel
  readonly #relay: InvalidationRelay
  #closed = false

  constructor(options: BroadcastChannelIpcOptions) {
    super()
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
    checkOptionNames(options, OPTION_NAMES, 'options')
    if (typeof options.channel !== 'string' || options.channel === '') {
      throw new TypeError('options.channel must be a non-empty string')
    }
    const shared = resolveIpcOptions(options)
    this.nodeId = shared.nodeId
    this.#channel = new BroadcastChannel(options.channel)
    // A bus is not a reason to keep a worker alive.
    this.#channel.unref()
    this.#relay = new InvalidationRelay({
      ...shared,
      maxStalenessMs: 0,
      events: this,
      liveOnSubscribe: true,
      send: (namespace, bytes) => this.#send(namespace, bytes),
    })
    this.#channel.onmessage = (event) => this.#receive((event as MessageEvent).data)
    this.#channel.onmessageerror = (event) =>
      this.emit('error', new IpcError('decode', (event as MessageEvent).data ?? 'message could not be deserialized'))
  }

  /**
   * Broadcast a local change (and tell the other caches of the namespace on
   * this bus at once, except `from`). Resolves once posted. Never throws;
   * failures are `error` events.
   */
  publish(event: InvalidationEvent, from?: InvalidationHandler): Promise<void> | undefined {
    return this.#closed ? undefined : this.#relay.publish(event, from)
  }

  /** Receive other threads' changes to `namespace`. */
  subscribe(namespace: string, handler: InvalidationHandler): () => void {
    if (this.#closed) throw new IpcError('subscribe', 'the bus is closed', namespace)
    return this.#relay.subscribe(namespace, handler)
  }

  /** Send what is being coalesced now. */
  flush(): void {
    this.#relay.flush()
  }

  /**
   * Send what is pending and close the channel. Caches still subscribed are
   * told `disconnected` (reason `bus closed`): they hear no other thread from
   * then on, so they no longer serve L1 (this bus's bound is 0 ms).
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#relay.flush()
    // As RedisPubSubIpc does since a9d659b: without it a cache that outlived its bus kept
    // serving L1 copies other threads had changed, until their TTL.
    for (const namespace of [...this.#relay.namespaces()]) this.#relay.markDown(namespace, 'bus closed')
    this.#closed = true
    this.#channel.close()
  }

  #send(namespace: string, bytes: Uint8Array): boolean {
    try {
      this.#channel.postMessage(bytes)
      return true
    } catch (error) {
      this.emit('error', new IpcError('publish', error, namespace))
      return false
    }
  }

  #receive(data: unknown): void {
    if (this.#closed) return
    if (!(data instanceof Uint8Array)) {
      this.emit('error', new IpcError('decode', new TypeError('message is not bytes')))
      return
    }
    this.#relay.receive(data)
  }
}
