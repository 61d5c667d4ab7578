import {
  type Announcement,
  checkOptionNames,
  type Duration,
  type InvalidationBus,
  type InvalidationEvent,
  type InvalidationHandler,
  optionNames,
  parseDuration,
} from '@tiercache/core'
import { EventEmitter } from 'eventemitter3'
import type { Cluster, Redis } from 'ioredis'
import { IpcError } from './errors.js'
import type { IpcEvents } from './events.js'
import { type IpcOptions, resolveIpcOptions } from './options.js'
import { InvalidationRelay } from './relay.js'

/** A standalone or cluster ioredis client. */
export type RedisClient = Redis | Cluster

/** Options of `RedisPubSubIpc`. */
export interface RedisPubSubIpcOptions extends IpcOptions {
  /** Connection that publishes. May be shared with the store and the rest of the app. */
  publisher: RedisClient
  /**
   * A connection used for nothing else: it enters subscriber mode. The bus
   * listens to its `close`/`ready` events to know when messages may be lost,
   * and reconnects it when a heartbeat does not come back.
   */
  subscriber: RedisClient
  /**
   * Channel prefix. Each namespace has its own channel, `<channel>:<namespace>`,
   * so a node receives only the namespaces it serves and, on a cluster with
   * sharded pub/sub, namespaces spread over the shards.
   * @example 'myapp:tiercache'
   */
  channel: string
  /**
   * While the subscriber is disconnected (or its heartbeat is missing), the
   * caches serve no L1 entry older than this many ms. The bound on how stale a
   * node can be after a lost message; see docs/ipc.md.
   * @default 3000
   */
  maxStalenessMs?: Duration
  /**
   * Every this many ms the node publishes a heartbeat on each namespace it
   * serves and expects it back; two intervals without it count as a
   * disconnection (and the subscriber is reconnected). Catches connections
   * that died silently and lost last messages. 0 disables heartbeats.
   * @default maxStalenessMs / 3, at least 100
   */
  heartbeatMs?: Duration
  /**
   * Use sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7). Every node of a
   * fleet must agree. Default: on when `subscriber` is an ioredis `Cluster`
   * created with `shardedSubscribers: true`, off otherwise (plain `PUBLISH`
   * works on a cluster too; it just reaches every shard).
   */
  sharded?: boolean
}

const MIN_DEFAULT_HEARTBEAT_MS = 100

const OPTION_NAMES = optionNames<RedisPubSubIpcOptions>({
  nodeId: true,
  coalesceMs: true,
  maxBatchKeys: true,
  publisher: true,
  subscriber: true,
  channel: true,
  maxStalenessMs: true,
  heartbeatMs: true,
  sharded: true,
})

/** Defaults of `RedisPubSubIpcOptions`. */
export const REDIS_PUBSUB_DEFAULTS = {
  maxStalenessMs: 3000,
} as const

/**
 * Carries L1 invalidations between processes and hosts over Redis pub/sub.
 *
 * @example
 * const ipc = new RedisPubSubIpc({ publisher: redis, subscriber: redis.duplicate(), channel: 'app:tc' })
 * ipc.on('error', (error) => log.warn(error))
 * const users = new TierCache({ name: 'users', store, ipc })
 */
export class RedisPubSubIpc extends EventEmitter<IpcEvents> implements InvalidationBus {
  /** This node's id, as carried by its messages. */
  readonly nodeId: string
  /** Whether the bus uses sharded pub/sub. */
  readonly sharded: boolean
  readonly #publisher: RedisClient
  readonly #subscriber: RedisClient
  readonly #prefix: string
  readonly #heartbeatMs: number
  readonly #maxStalenessMs: number
  readonly #relay: InvalidationRelay
  readonly #namespaceOf = new Map<string, string>()
  /** Namespaces whose SUBSCRIBE was acknowledged on the current connection. */
  readonly #subscribed = new Set<string>()
  /** Bumped on every close, so an acknowledgement from an older connection is ignored. */
  #epoch = 0
  /** Namespaces whose (S)SUBSCRIBE is under way, with the epoch it was sent in. */
  readonly #subscribing = new Map<string, number>()
  /**
   * A Cluster subscriber's plain pub/sub connection, as last seen, and the
   * listener of its close: the Cluster replaces it by itself and tells nothing.
   */
  #watched: { connection: Redis; onClose: () => void } | undefined
  /** Heartbeats sent and not yet back: namespace → ticks since sent. */
  readonly #probes = new Map<string, number>()
  #heartbeat: NodeJS.Timeout | undefined
  #closed = false
  readonly #listeners: Record<string, (...args: never[]) => void>

  constructor(options: RedisPubSubIpcOptions) {
    super()
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
    checkOptionNames(options, OPTION_NAMES, 'options')
    const { publisher, subscriber, channel } = options
    if (!isClient(publisher)) throw new TypeError('options.publisher must be an ioredis Redis or Cluster')
    if (!isClient(subscriber)) throw new TypeError('options.subscriber must be an ioredis Redis or Cluster')
    if (subscriber === publisher) throw new TypeError('options.subscriber must be a connection of its own')
    if (typeof channel !== 'string' || channel === '') throw new TypeError('options.channel must be a non-empty string')
    const maxStalenessMs = parseDuration(
      options.maxStalenessMs ?? REDIS_PUBSUB_DEFAULTS.maxStalenessMs,
      'options.maxStalenessMs',
    )
    // Floored so a tiny maxStalenessMs cannot turn heartbeats into a busy loop.
    const heartbeatMs = parseDuration(
      options.heartbeatMs ?? Math.max(MIN_DEFAULT_HEARTBEAT_MS, Math.floor(maxStalenessMs / 3)),
      'options.heartbeatMs',
    )
    const shared = resolveIpcOptions(options)

    this.nodeId = shared.nodeId
    this.sharded = options.sharded ?? isShardedCluster(subscriber)
    this.#publisher = publisher
    this.#subscriber = subscriber
    this.#prefix = `${channel}:`
    this.#heartbeatMs = heartbeatMs
    this.#maxStalenessMs = maxStalenessMs
    this.#relay = new InvalidationRelay({
      ...shared,
      maxStalenessMs,
      events: this,
      liveOnSubscribe: false,
      send: (namespace, bytes) => this.#send(namespace, bytes),
      onNamespaceAdded: (namespace) => this.#listen(namespace),
      onNamespaceRemoved: (namespace) => this.#unlisten(namespace),
      onEcho: (namespace, at) => this.#echo(namespace, at),
    })

    this.#listeners = {
      [this.sharded ? 'smessageBuffer' : 'messageBuffer']: (channel: Buffer, message: Buffer) =>
        this.#message(channel, message),
      close: () => this.#lost('connection closed'),
      end: () => this.#lost('connection ended'),
      ready: () => this.#resubscribe(),
      // A Cluster emits no 'close' when it loses a subscriber connection (it replaces
      // it at once): a sharded subscriber's end is a '-node'. Also emitted for its other
      // connections: taken as a loss all the same, which costs one L1 drop.
      ...(isCluster(subscriber) ? { '-node': () => this.#lost('cluster subscriber connection lost') } : {}),
    }
    for (const [event, listener] of Object.entries(this.#listeners)) subscriber.on(event, listener as () => void)
  }

  /**
   * Broadcast a local change (and tell the other caches of the namespace on
   * this bus at once, except `from`). Resolves once Redis acknowledged the
   * PUBLISH, or failed, or `maxStalenessMs` passed. Never throws or rejects;
   * failures are `error` events.
   */
  publish(event: InvalidationEvent, from?: InvalidationHandler): Promise<void> | undefined {
    if (this.#closed) {
      // Nothing goes out, but the other caches of the name in this process still hear it: closed,
      // they are bounded to maxStalenessMs, and served their copy of a key this process had just
      // changed until then (its own write not read back by a sibling).
      this.#relay.announced(event, from)
      return undefined
    }
    const sent = this.#relay.publish(event, from)
    if (sent === undefined) return undefined
    // A stalled publisher must not hold a set for longer than the staleness bound it protects.
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.#maxStalenessMs)
      timer.unref()
      sent.then(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /**
   * `event` as a message the store publishes itself, atomically with its
   * write, through this bus's `publisher` (a `RedisStore` on the same client
   * accepts it): then no death of the writing process between the write and
   * the publish can lose it. `undefined` once closed.
   */
  announcement(event: InvalidationEvent): Announcement | undefined {
    if (this.#closed) return undefined
    const message = this.#relay.announcement(event)
    if (message === undefined) return undefined
    return { via: this.#publisher, channel: this.channelOf(event.namespace), message, sharded: this.sharded }
  }

  /** The store published `event` with its write: tell the other caches of the namespace in this process (not `from`). */
  announced(event: InvalidationEvent, from?: InvalidationHandler): void {
    this.#relay.announced(event, from) // also once closed: see publish
  }

  /**
   * Receive other nodes' changes to `namespace`. The handler hears
   * `disconnected` at once and `reconnected` when the channel is live.
   */
  subscribe(namespace: string, handler: InvalidationHandler): () => void {
    if (this.#closed) throw new IpcError('subscribe', 'the bus is closed', namespace)
    return this.#relay.subscribe(namespace, handler)
  }

  /**
   * True while `namespace` receives every message: subscribed on the current
   * connection and its last heartbeat came back. For health checks.
   */
  isLive(namespace: string): boolean {
    return this.#relay.has(namespace) && !this.#relay.isDown(namespace)
  }

  /** The channel that carries `namespace`. */
  channelOf(namespace: string): string {
    return this.#prefix + namespace
  }

  /** Send what is being coalesced now. */
  flush(): void {
    this.#relay.flush()
  }

  /**
   * Send what is pending, stop heartbeats and leave the channels. Caches
   * still subscribed are told `disconnected` (reason `bus closed`): they serve
   * no L1 entry older than `maxStalenessMs` from then on. The connections stay
   * open: they are the caller's to `quit()`.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#relay.flush()
    // Its caches hear no other node from now on: they bound their L1 trust as while disconnected.
    // Before, a cache on a bus without heartbeats (heartbeatMs: 0) trusted its L1 until TTL.
    for (const namespace of [...this.#relay.namespaces()]) this.#relay.markDown(namespace, 'bus closed')
    this.#closed = true
    clearInterval(this.#heartbeat)
    for (const [event, listener] of Object.entries(this.#listeners)) this.#subscriber.off(event, listener as () => void)
    this.#watched?.connection.off('close', this.#watched.onClose)
    this.#watched = undefined
    const channels = [...this.#namespaceOf.keys()]
    this.#namespaceOf.clear()
    const left = channels.map((channel) => this.#leave(channel)?.catch(() => undefined))
    if (this.#subscriber.status === 'ready') await Promise.all(left)
  }

  // ---- outgoing -----------------------------------------------------------

  #send(namespace: string, bytes: Uint8Array): Promise<boolean> {
    const channel = this.channelOf(namespace)
    const message = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const sent = this.sharded ? this.#publisher.spublish(channel, message) : this.#publisher.publish(channel, message)
    // A failed publish consumed its sequence number, and the outbox makes this
    // namespace's next message a purge: the others drop that namespace's L1.
    return sent.then(
      () => true,
      (error: unknown) => {
        this.emit('error', new IpcError('publish', error, namespace))
        return false
      },
    )
  }

  // ---- subscriptions and connection state ----------------------------------

  #listen(namespace: string): void {
    this.#namespaceOf.set(this.channelOf(namespace), namespace)
    this.#startHeartbeat()
    const status = this.#subscriber.status
    if (status === 'ready') this.#subscribeChannel(namespace)
    else if (status === 'wait') this.#subscriber.connect().catch(() => undefined) // lazyConnect: 'ready' follows
  }

  #unlisten(namespace: string): void {
    const channel = this.channelOf(namespace)
    this.#namespaceOf.delete(channel)
    this.#subscribed.delete(namespace)
    this.#probes.delete(namespace)
    const ready = this.#subscriber.status === 'ready'
    // Reported only on a live connection: a queued one fails when the connection ends, which says enough.
    this.#leave(channel)?.catch((error: unknown) => {
      if (ready) this.emit('error', new IpcError('subscribe', error, namespace))
    })
  }

  /**
   * Unsubscribe `channel`, also while the subscriber reconnects: then the
   * command waits in ioredis's offline queue, which goes out after ioredis has
   * resubscribed the connection to its channels (autoResubscribe). Skipped
   * before, such a channel stayed subscribed on the caller's connection for
   * good, its messages and heartbeats delivered to nobody. Not on a lazy
   * connection never opened (the command would open it), nor on one ended.
   */
  #leave(channel: string): Promise<unknown> | undefined {
    const status = this.#subscriber.status
    if (status === 'wait' || status === 'end') return undefined
    return this.sharded ? this.#subscriber.sunsubscribe(channel) : this.#subscriber.unsubscribe(channel)
  }

  #subscribeChannel(namespace: string): void {
    const epoch = this.#epoch
    const channel = this.channelOf(namespace)
    this.#subscribing.set(namespace, epoch)
    const subscribed = this.sharded ? this.#subscriber.ssubscribe(channel) : this.#subscriber.subscribe(channel)
    const settled = () => {
      if (this.#subscribing.get(namespace) === epoch) this.#subscribing.delete(namespace)
    }
    subscribed.then(settled, settled)
    subscribed.then(
      () => {
        this.#watchClusterSubscriber()
        // Acknowledged on a connection that has since closed: the 'ready' of the new one subscribes again.
        if (this.#closed || epoch !== this.#epoch || !this.#relay.has(namespace)) return
        this.#subscribed.add(namespace)
        // Up once our own heartbeat has made the round trip: that proves the
        // whole path (publisher, server, this subscription), not just the ack.
        if (this.#heartbeatMs === 0) this.#relay.markUp(namespace)
        else this.#probe(namespace)
      },
      (error: unknown) => this.emit('error', new IpcError('subscribe', error, namespace)),
    )
  }

  /** Every (re)connection: subscribe again, whether or not ioredis's autoResubscribe also does (a duplicate SUBSCRIBE is harmless). */
  #resubscribe(): void {
    for (const namespace of this.#relay.namespaces()) this.#subscribeChannel(namespace)
  }

  #lost(reason: string): void {
    this.#epoch++
    this.#subscribing.clear()
    this.#subscribed.clear()
    this.#probes.clear()
    for (const namespace of this.#relay.namespaces()) this.#relay.markDown(namespace, reason)
  }

  #message(channel: Buffer, message: Buffer): void {
    const namespace = this.#namespaceOf.get(channel.toString())
    if (namespace !== undefined) this.#relay.receive(message, namespace)
  }

  // ---- heartbeats -----------------------------------------------------------

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined) return
    // A Cluster needs the tick also without heartbeats: it alone subscribes again after the
    // Cluster replaced a subscriber connection (no 'ready' follows). Without it a bus with
    // heartbeatMs: 0 stayed down for good after the first replacement ('-node' or the watch).
    const every =
      this.#heartbeatMs !== 0
        ? this.#heartbeatMs
        : isCluster(this.#subscriber)
          ? Math.max(MIN_DEFAULT_HEARTBEAT_MS, Math.floor(this.#maxStalenessMs / 3))
          : 0
    if (every === 0) return
    this.#heartbeat = setInterval(() => this.#tick(), every)
    this.#heartbeat.unref()
  }

  /**
   * A heartbeat is lost when it has not come back two ticks after it left.
   * Two, not one: after the event loop was blocked, the first late tick runs
   * before the socket is read, while the echo may be waiting in it. A
   * connection dead since just after an echo is so noticed within three
   * intervals, which the default interval (maxStalenessMs / 3) keeps within
   * maxStalenessMs.
   */
  #tick(): void {
    this.#watchClusterSubscriber()
    // Namespaces left unsubscribed: a Cluster never says 'ready' again after it replaced a
    // subscriber connection (and an SSUBSCRIBE sent to one that has just ended fails).
    if (this.#subscriber.status === 'ready') {
      for (const namespace of this.#relay.namespaces()) {
        if (!this.#subscribed.has(namespace) && this.#subscribing.get(namespace) !== this.#epoch) {
          this.#subscribeChannel(namespace)
        }
      }
    }
    if (this.#heartbeatMs === 0) return // ticking only to resubscribe (a Cluster without heartbeats)
    let lost = false
    for (const namespace of this.#relay.namespaces()) {
      if (!this.#subscribed.has(namespace)) continue
      const age = this.#probes.get(namespace)
      if (age === 0) {
        this.#probes.set(namespace, 1)
        continue
      }
      if (age !== undefined) {
        lost = true
        this.#relay.markDown(namespace, 'heartbeat lost')
      }
      this.#probe(namespace)
    }
    // A connection that lost a heartbeat may be dead without knowing it
    // (no FIN, no RST): start a fresh one; its 'ready' subscribes again.
    if (lost && this.#subscriber.status === 'ready') this.#subscriber.disconnect(true)
  }

  /**
   * A Cluster's plain pub/sub goes through one connection of its own, which it
   * replaces by itself when it closes, resubscribing it, and says nothing: what
   * was published in between is lost unseen (nothing numbers a message the store
   * published). So its close is a loss, and so is finding another connection
   * than the one seen last.
   */
  #watchClusterSubscriber(): void {
    // Not once closed: a subscribe acknowledged after close() left a listener on the Cluster's
    // connection for good (and a loss reported by a bus that no longer runs).
    if (this.#closed || this.sharded || !isCluster(this.#subscriber)) return
    const connection = (
      this.#subscriber as unknown as { subscriber?: { getInstance?(): Redis | null } }
    ).subscriber?.getInstance?.()
    if (connection == null || connection === this.#watched?.connection) return
    const replaced = this.#watched !== undefined
    this.#watched?.connection.off('close', this.#watched.onClose)
    const onClose = () => this.#lost('cluster subscriber connection closed')
    connection.on('close', onClose)
    this.#watched = { connection, onClose }
    if (replaced) this.#lost('cluster subscriber connection replaced')
  }

  #probe(namespace: string): void {
    this.#probes.set(namespace, 0)
    this.#relay.heartbeat(namespace)
  }

  #echo(namespace: string, at: number | undefined): void {
    this.#probes.delete(namespace)
    if (!this.#subscribed.has(namespace)) return
    this.#relay.markUp(namespace)
    // After markUp: reconnected resets a cache's trust, this sets it from the heartbeat's departure.
    if (at !== undefined) this.#relay.confirm(namespace, Math.max(0, performance.now() - at))
  }
}

function isClient(value: unknown): value is RedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).publish === 'function' &&
    typeof (value as Redis).subscribe === 'function'
  )
}

function isCluster(client: RedisClient): boolean {
  return (client as Cluster).isCluster === true
}

function isShardedCluster(client: RedisClient): boolean {
  const cluster = client as Cluster
  return cluster.isCluster === true && cluster.options.shardedSubscribers === true
}
