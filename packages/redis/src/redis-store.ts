import {
  type Announcement,
  type DecodeError,
  type SharedStore,
  StoreCallError,
  type StoreChange,
  StoreError,
  type StoreHealth,
  type StoreRead,
  type StoreRecord,
  type StoreTouch,
  type StoreWrite,
  type StoreWriteResult,
} from '@tiercache/core'
import { EventEmitter } from 'eventemitter3'
import { type Cluster, Redis } from 'ioredis'
import { BoundedSet } from './bounded-set.js'
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js'
import { CircuitProbe } from './circuit-probe.js'
import { splitBySlot } from './cluster-batch.js'
import { CommandGuard, type ErrorCounts, PartFailed } from './command-guard.js'
import {
  DELETED,
  ENVELOPE_OVERHEAD,
  FOREVER_MS,
  open,
  type SealedRecord,
  seal,
  sealTombstone,
  sealTouch,
  stampOf,
} from './envelope.js'
import { EvictionPolicyWarning, LateCommandError, MalformedRecordError, ValueTooLargeError } from './errors.js'
import { evictingNodes } from './eviction-policy.js'
import { Generations } from './generations.js'
import { KeySpace } from './keys.js'
import { allowListeners, type ListenerLimited } from './listener-limit.js'
import { type RedisStoreOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { ReadBare, ReadOne, versionOfBytes } from './read-one.js'
import { RedisLock } from './redis-lock.js'
import { ReleaseListener } from './release-listener.js'
import { registerScripts, type ScriptedClient, type ScriptedPipeline } from './scripts.js'
import { ServerClock } from './server-clock.js'
import { watchSockets } from './unanswered-writes.js'
import { formatVersion, type ParsedVersion, parseVersion, VersionIds } from './versions.js'

/** Events of `RedisStore`. Failures of a call reject that call; these are the ones nobody awaits. */
export interface RedisStoreEvents {
  /**
   * Bytes under a cache key were not a record (read as a miss: `DecodeError`),
   * a value over `maxValueBytes` was read as a miss (`StoreCallError` of kind
   * `too-large`), or a connection the store owns failed (`StoreError`).
   */
  error: (error: StoreError | DecodeError) => void
  /** The circuit breaker changed state. */
  circuit: (state: CircuitState) => void
  /**
   * Something that works but weakens what the store guarantees: a node that
   * evicts keys (`maxmemory-policy` other than `noeviction`), checked each
   * time the connection becomes ready.
   */
  warning: (warning: EvictionPolicyWarning) => void
}

/** ioredis settings for a client the store makes from a url: no command waits through 20 reconnects. */
const OWN_CLIENT = { maxRetriesPerRequest: 1, connectTimeout: 2000 } as const

/** How many times an operation follows a changing generation before giving up. */
const GENERATION_ATTEMPTS = 5

/**
 * How recent the clock reading behind a read without a script must be: older,
 * the next read runs the script, whose reply renews it (about one read in
 * every second or so of a read-only load).
 */
const STAMP_CLOCK_MS = 1_000

/** How many keys found over maxValueBytes a store remembers (the oldest forgotten first). */
const OVERSIZED_KEYS = 1_024

/** Items per key in a read script's reply: bytes (or size, or false), PTTL, version id. */
const READ_WIDTH = 3
/** Items per key in a write script's reply: 1 or the version id found. */
const WRITE_WIDTH = 1

/** A write ready to send. */
interface Prepared {
  readonly sealed: SealedRecord
  readonly id: Buffer
  /** The version a conditional write read. */
  readonly condition: ParsedVersion | undefined
}

/** One key's part of a script reply, with the Redis time of the reply. */
interface Slice {
  readonly items: unknown[]
  readonly now: number
}

/** What a script call over a batch of keys found. */
type Batch = { readonly changed: string } | { readonly slices: Slice[] }

/**
 * The shared store on Redis or Redis Cluster: values stay in Redis through
 * their stale window, freshness is read from Redis's own PTTL, namespaces are
 * purged in O(1) by a generation counter, and `lock` lets one process of the
 * fleet refill a key.
 *
 * @example
 * const store = new RedisStore({ client: new Redis() })
 * const cache = new TierCache({ name: 'users', store, ttl: 60_000, staleTtl: 300_000 })
 * store.on('error', (error) => log.warn(error))
 */
export class RedisStore extends EventEmitter<RedisStoreEvents> implements SharedStore {
  /** Always `"redis"`. */
  readonly name = 'redis'
  /** The ioredis client in use (the one given, or the one made from `url`). */
  readonly client: Redis | Cluster
  /** The distributed lock (SET NX PX + compare-and-delete, release announced on pub/sub). */
  readonly lock: RedisLock
  /** Every call is bounded here (`commandTimeoutMs`, circuit breaker), so the cache adds no timer of its own. */
  readonly boundsCalls = true

  readonly #options: ResolvedOptions
  /**
   * The longest stored bytes a read takes: maxValueBytes (which counts the core's data and
   * meta, as a write checks it) plus what the envelope adds. Reads compared the stored
   * bytes with maxValueBytes alone, so a value within 42 bytes of the limit was written
   * and then read as a miss reported too large, every time.
   */
  readonly #readLimit: number
  readonly #ownsClient: boolean
  readonly #cluster: boolean
  readonly #keys: KeySpace
  readonly #scripts: ScriptedClient
  /** The one-key read of a standalone Redis; `undefined` on a Cluster. */
  readonly #readOneScript: ReadOne | undefined
  /** The one-key read without a script (MGET) of a standalone Redis; `undefined` on a Cluster. */
  readonly #readBare: ReadBare | undefined
  /**
   * Keys found over maxValueBytes by a read without a script (which cannot
   * stop at that size): read with the script from then on, which never sends
   * more than the limit. So a huge value crosses the wire once per process.
   */
  readonly #oversized = new BoundedSet(OVERSIZED_KEYS)
  /** Value keys with a read without a script in flight (at most `maxInFlight` of them). */
  readonly #bareReads = new Set<string>()
  readonly #guard: CommandGuard
  readonly #breaker: CircuitBreaker
  readonly #probe: CircuitProbe
  readonly #generations: Generations
  readonly #listener: ReleaseListener
  readonly #clock = new ServerClock(() => performance.now())
  readonly #ids = new VersionIds()

  constructor(options: RedisStoreOptions) {
    super()
    this.#options = resolveOptions(options)
    this.#readLimit = this.#options.maxValueBytes + ENVELOPE_OVERHEAD
    this.#ownsClient = options.client === undefined
    this.client = options.client ?? new Redis(options.url as string, { ...OWN_CLIENT, ...options.redis })
    if (this.#ownsClient)
      this.client.on('error', (error) =>
        this.emit(
          'error',
          new StoreCallError({ operation: 'connect', kind: 'connection', outcome: 'not-applied', cause: error }),
        ),
      )
    this.#cluster = this.client.isCluster
    // Replies are read as numbers (a write's "applied", PTTL, Redis's time): a client that turns
    // them into strings would have every conditional write read as refused.
    const clientOptions = this.client.options as { stringNumbers?: boolean; redisOptions?: { stringNumbers?: boolean } }
    if (clientOptions.stringNumbers === true || clientOptions.redisOptions?.stringNumbers === true) {
      if (this.#ownsClient) this.client.disconnect()
      const where = this.#ownsClient
        ? 'options.redis.stringNumbers'
        : 'options.client (created with stringNumbers: true)'
      throw new TypeError(
        `${where}: RedisStore reads numbers from its replies (a write's outcome, PTTL, Redis's time) and cannot use a client that turns them into strings`,
      )
    }
    // ioredis auto-pipelines a Cluster's commands only when all keys of a pipeline share one slot
    // group: every read of the store (its keys are in several) failed, reported as a connection error.
    if (this.#cluster && (this.client.options as { enableAutoPipelining?: boolean }).enableAutoPipelining === true) {
      throw new TypeError(
        'options.client (a Cluster created with enableAutoPipelining: true): RedisStore sends keys of several slots per call, which a Cluster refuses to auto-pipeline; create the Cluster without it (the store batches its own calls)',
      )
    }
    this.#keys = new KeySpace(this.#options.prefix)
    this.#scripts = registerScripts(this.client)
    this.#readOneScript = this.#cluster ? undefined : new ReadOne(this.client as Redis, this.#readLimit)
    this.#readBare = this.#cluster ? undefined : new ReadBare(this.client as Redis)
    this.#breaker = new CircuitBreaker({
      failureThreshold: this.#options.failureThreshold,
      openMs: this.#options.breakerOpenMs,
      onChange: (state) => {
        if (state === 'open') this.#probe.opened()
        this.emit('circuit', state)
      },
      now: () => performance.now(),
    })
    this.#guard = new CommandGuard({
      client: this.client,
      breaker: this.#breaker,
      timeoutMs: this.#options.commandTimeoutMs,
      clock: this.#clock,
      maxInFlight: this.#options.maxInFlight,
    })
    this.#probe = new CircuitProbe({
      client: this.client,
      guard: this.#guard,
      breaker: this.#breaker,
      openMs: this.#options.breakerOpenMs,
    })
    this.#generations = new Generations(this.#cluster ? this.#options.generationTrustMs : 0, () => performance.now())
    this.#listener = new ReleaseListener(this.client, this.#keys.releaseChannel, (error) =>
      this.emit(
        'error',
        error instanceof StoreError
          ? error
          : new StoreCallError({ operation: 'subscribe', kind: 'connection', outcome: 'not-applied', cause: error }),
      ),
    )
    this.lock = new RedisLock({
      client: this.client,
      scripts: this.#scripts,
      keys: this.#keys,
      guard: this.#guard,
      listener: this.#listener,
      timing: {
        minRecheckMs: this.#options.minRecheckMs,
        maxRecheckMs: this.#options.maxRecheckMs,
        subscribeTimeoutMs: this.#options.commandTimeoutMs,
      },
    })
    this.client.on('ready', this.#onReady)
    // Two 'ready' listeners of its own (this one and its probe's), taken off at close().
    allowListeners(this.client, STORE_CLIENT_LISTENERS)
    watchSockets(this.client)
    if (this.client.status === 'ready') this.#onReady()
  }

  /**
   * The circuit breaker's state: `open` while calls are refused without trying
   * Redis. It moves without traffic too: a PING probes Redis `breakerOpenMs`
   * after the circuit opened and when the client reconnects.
   */
  get circuit(): CircuitState {
    return this.#breaker.state
  }

  /**
   * PING Redis through the circuit breaker (as the probe when the circuit is
   * due for one, so a Redis that came back closes it). Never throws.
   */
  async health(): Promise<StoreHealth> {
    try {
      await this.#guard.run('health', () => this.client.ping())
      return { ok: true, circuit: this.circuit }
    } catch (error) {
      const cause = error instanceof StoreError && error.cause instanceof Error ? error.cause : error
      return { ok: false, circuit: this.circuit, error: cause instanceof Error ? cause.message : String(cause) }
    }
  }

  /** Read one record with its remaining fresh and kept time by Redis's clock; `undefined` when absent or unreadable. */
  get(namespace: string, key: string): Promise<StoreRecord | undefined> {
    // Not async: a bad key must still reject (not throw), and a read needs no extra promise hop.
    let stem: string
    try {
      stem = this.#keys.stem(namespace, key)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#guard.run('get', () => this.#readOne(namespace, stem, key)).then((read) => read.record)
  }

  /** Read many records in one round trip (one per node on a Cluster), in the order of `keys`. */
  async getMany(namespace: string, keys: readonly string[]): Promise<(StoreRecord | undefined)[]> {
    return (await this.readMany(namespace, keys)).map((read) => read.record)
  }

  /** Read one key with its version (also when absent), for a load to write back with `ifVersion`. */
  read(namespace: string, key: string): Promise<StoreRead> {
    let stem: string
    try {
      stem = this.#keys.stem(namespace, key)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#guard.run('get', () => this.#readOne(namespace, stem, key))
  }

  /** {@link read} for many keys in one round trip (one per node on a Cluster), in the order of `keys`. */
  async readMany(namespace: string, keys: readonly string[]): Promise<StoreRead[]> {
    if (!Array.isArray(keys)) throw new TypeError('keys must be an array of strings')
    const stems = keys.map((key) => this.#keys.stem(namespace, key))
    if (stems.length === 0) return []
    return this.#guard.run('getMany', () => this.#readManyBare(namespace, stems, keys))
  }

  /**
   * Write one record; Redis keeps it `write.keepMs` (PX), its stale window
   * recorded in the envelope. With `write.ifVersion`, only if the key is
   * still at that version (checked in the same script).
   */
  async set(namespace: string, key: string, write: StoreWrite): Promise<StoreWriteResult> {
    const stems = [this.#keys.stem(namespace, key)]
    const prepared = [this.#prepare(write, 'write')]
    const announce = this.#announceArgs(write.announce, 'write.announce')
    return (
      await this.#guard.run('set', ({ deadline }) => this.#write(namespace, stems, prepared, deadline, announce))
    )[0]!
  }

  /**
   * Whether this store publishes `announcement` itself, in the write script
   * (a `set`'s, `delete`'s or `purge`'s `announce`): when the bus publishes
   * through this store's own client, so its subscribers listen on this Redis,
   * and, on a Cluster, with plain `PUBLISH` only (Redis refuses an `SPUBLISH`
   * from a script to a channel of another slot than the script's keys).
   */
  announces(announcement: Announcement): boolean {
    return (
      typeof announcement === 'object' &&
      announcement !== null &&
      announcement.via === this.client &&
      !(this.#cluster && announcement.sharded)
    )
  }

  /** Write many records in one round trip (one per node on a Cluster); one result per entry. */
  async setMany(
    namespace: string,
    entries: readonly (readonly [key: string, write: StoreWrite])[],
  ): Promise<StoreWriteResult[]> {
    if (!Array.isArray(entries)) throw new TypeError('entries must be an array of [key, write] pairs')
    const stems = entries.map(([key]) => this.#keys.stem(namespace, key))
    const prepared = entries.map(([, write], i) => this.#prepare(write, `entries[${i}][1]`))
    if (stems.length === 0) return []
    return this.#guard.run('setMany', ({ deadline }) => this.#write(namespace, stems, prepared, deadline))
  }

  /**
   * Make the record of `key` fresh again in place (a "not modified" answer),
   * only if it is still held at `touch.ifVersion`: one script rewrites 7
   * header bytes and the PX, never the value. Refused after any write,
   * delete, purge or expiry since the read.
   */
  async touch(namespace: string, key: string, touch: StoreTouch): Promise<StoreWriteResult> {
    if (typeof touch !== 'object' || touch === null) throw new TypeError('touch must be a StoreTouch object')
    const { freshMs, keepMs, ifVersion } = touch
    if (typeof freshMs !== 'number' || Number.isNaN(freshMs)) throw new TypeError('touch.freshMs must be a number')
    if (typeof keepMs !== 'number' || Number.isNaN(keepMs) || keepMs < freshMs) {
      throw new TypeError('touch.keepMs must be a number >= freshMs')
    }
    const condition = parseVersion(ifVersion, 'touch.ifVersion')
    const sealed = sealTouch(touch)
    const stems = [this.#keys.stem(namespace, key)]
    const perKey = [
      [
        sealed.afterFresh,
        sealed.px,
        sealed.neverStale ? '1' : '0',
        sealed.keepForever ? '1' : '0',
        Buffer.concat([V, condition.id]),
        condition.readAt,
      ],
    ]
    return this.#guard.run('touch', async ({ deadline }) => {
      const found = await this.#checkedAt(namespace, condition.generation, (generation, generationKey) =>
        this.#batch({
          stems,
          generation,
          generationKey,
          head: [deadline, this.#options.fenceMs],
          perKey,
          width: WRITE_WIDTH,
          send: (target, keys, argv) => target.tiercacheTouchBuffer(keys.length, ...keys, ...argv),
        }),
      )
      // Purged since the read: nothing to make fresh.
      if (!('slices' in found)) return { applied: false, version: stale(found.changed) }
      const { items, now } = found.slices[0]!
      const reply = items[0]
      return reply === 1
        ? { applied: true, version: formatVersion(condition.generation, now, condition.id) }
        : { applied: false, version: formatVersion(condition.generation, now, reply as Buffer) }
    })
  }

  /**
   * Delete one record: it is replaced by a tombstone kept `fenceMs`, whose new
   * version refuses the write of any load that read before (of the
   * namespace's current generation; older ones are unreachable already).
   */
  async delete(namespace: string, key: string, change?: StoreChange): Promise<StoreWriteResult> {
    const stems = [this.#keys.stem(namespace, key)]
    const id = this.#ids.next()
    const prepared = [{ sealed: sealTombstone(id, this.#options.fenceMs), id, condition: undefined }]
    const announce = this.#announceArgs(change?.announce, 'change.announce')
    return (
      await this.#guard.run('delete', ({ deadline }) => this.#write(namespace, stems, prepared, deadline, announce))
    )[0]!
  }

  /**
   * Make every record of `namespace` unreachable in O(1): move it to a new
   * generation, above the current one. Records of older generations expire
   * by their own PX; versions read at an older generation match nothing any more.
   */
  async purge(namespace: string, change?: StoreChange): Promise<void> {
    const generationKey = this.#keys.generation(namespace)
    const announce = this.#announceArgs(change?.announce, 'change.announce')
    const generation = await this.#guard.run('purge', async ({ deadline }) => {
      const reply = await this.#scripts.tiercachePurge(1, generationKey, '', deadline, ...announce)
      if (reply === 'late') throw new LateCommandError()
      return reply
    })
    this.#generations.learn(namespace, String(generation))
  }

  /** Failed calls since the store was made, by kind (`timeout`, `circuit-open`, `connection`, ...). */
  get errorCounts(): Readonly<ErrorCounts> {
    return this.#guard.counts
  }

  /** Close the subscriber connection, and the client if the store made it from `url`. */
  async close(): Promise<void> {
    this.#probe.stop()
    this.client.off('ready', this.#onReady)
    if (!this.#closed) allowListeners(this.client, -STORE_CLIENT_LISTENERS)
    this.#closed = true
    this.#leaveSocket()
    await this.#listener.close()
    if (!this.#ownsClient) return
    await Promise.race([this.client.quit().catch(() => undefined), delay(this.#options.commandTimeoutMs)])
    this.client.disconnect()
  }

  /** close() has run: the client's listener limit it raised is not lowered twice. */
  #closed = false

  /** The socket whose incoming bytes tell the guard Redis is alive (see `CommandGuard.heard`). */
  #heardFrom: Listened | undefined

  /** Stop listening to {@link #heardFrom}, and give back the listener it was allowed for this store. */
  #leaveSocket(): void {
    if (this.#heardFrom === undefined) return
    this.#heardFrom.off('data', this.#heard)
    this.#heardFrom.off('close', this.#forgetBareReads)
    allowListeners(this.#heardFrom, -1)
    this.#heardFrom = undefined
  }

  readonly #heard = (): void => this.#guard.heard()

  /**
   * The connection closed (its unanswered writes are failed by `watchSockets`, unanswered-writes.ts). A client
   * that does not send them again (autoResendUnfulfilledCommands: false) never settles the
   * reads unanswered at a close either: the keys of a read without a script lost that way
   * stayed marked as being read so for good, and every later read of them ran the script.
   */
  readonly #forgetBareReads = (): void => {
    const { autoResendUnfulfilledCommands } = this.client.options as { autoResendUnfulfilledCommands?: boolean }
    if (autoResendUnfulfilledCommands === false) this.#bareReads.clear()
  }

  /** Listen to the bytes of the connection's socket (a new one after each reconnection), and to its close; not on a Cluster. */
  #listenToSocket(): void {
    const stream = (this.client as Partial<Redis>).stream
    if (this.#cluster || stream === undefined || stream === this.#heardFrom) return
    this.#leaveSocket()
    // One 'data' and one 'close' listener per store on the socket (the limit counts per event).
    allowListeners(stream, 1)
    stream.on('data', this.#heard)
    stream.once('close', this.#forgetBareReads)
    this.#heardFrom = stream
  }

  /** On each (re)connection: listen to the new socket, learn Redis's clock, and warn when the node evicts keys. */
  readonly #onReady = (): void => {
    this.#listenToSocket()
    // A reconnection may reach another host (a failover): its clock is learnt again before a read goes by a stamp.
    this.#clock.forgetLatest()
    const sentAt = performance.now()
    this.client
      .time()
      .then(([seconds, micros]) =>
        this.#clock.observe(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000), performance.now(), sentAt),
      )
      .catch(() => {})
    evictingNodes(this.client)
      .then((nodes) => {
        for (const { policy, node } of nodes) this.emit('warning', new EvictionPolicyWarning(policy, node))
      })
      .catch(() => {})
  }

  /** The script arguments that publish `announcement` (see scripts.ts, ANNOUNCE): none when undefined. */
  #announceArgs(announcement: Announcement | undefined, name: string): AnnounceArgs {
    if (announcement === undefined) return NO_ANNOUNCEMENT
    if (!this.announces(announcement) || typeof announcement.channel !== 'string') {
      throw new TypeError(`${name} must be an announcement this store accepts (see RedisStore.announces)`)
    }
    if (!(announcement.message instanceof Uint8Array)) throw new TypeError(`${name}.message must be a Uint8Array`)
    const { message } = announcement
    return [
      announcement.sharded ? 'SPUBLISH' : 'PUBLISH',
      announcement.channel,
      Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength),
    ]
  }

  /** Validate a write and seal it under a new version id. */
  #prepare(write: StoreWrite, name: string): Prepared {
    if (typeof write !== 'object' || write === null) throw new TypeError(`${name} must be a StoreWrite object`)
    const { data, freshMs, keepMs, staleMs, ifVersion, meta } = write
    if (data !== undefined && !(data instanceof Uint8Array)) {
      throw new TypeError(`${name}.data must be a Uint8Array or undefined`)
    }
    if (meta !== undefined && !(meta instanceof Uint8Array)) {
      throw new TypeError(`${name}.meta must be a Uint8Array or undefined`)
    }
    if (typeof freshMs !== 'number' || Number.isNaN(freshMs)) throw new TypeError(`${name}.freshMs must be a number`)
    if (typeof keepMs !== 'number' || Number.isNaN(keepMs) || keepMs < freshMs) {
      throw new TypeError(`${name}.keepMs must be a number >= freshMs`)
    }
    if (staleMs !== undefined && (typeof staleMs !== 'number' || Number.isNaN(staleMs) || staleMs < 0)) {
      throw new TypeError(`${name}.staleMs must be a number >= 0 or undefined`)
    }
    const condition = ifVersion === undefined ? undefined : parseVersion(ifVersion, `${name}.ifVersion`)
    const size = (data?.byteLength ?? 0) + (meta?.byteLength ?? 0)
    if (data !== undefined && size > this.#options.maxValueBytes) {
      throw this.#guard.count(
        new StoreCallError({
          operation: 'set',
          kind: 'too-large',
          outcome: 'not-applied',
          cause: new ValueTooLargeError(size, this.#options.maxValueBytes),
        }),
      )
    }
    const id = this.#ids.next()
    return { sealed: seal(write, id), id, condition }
  }

  async #read(namespace: string, stems: readonly string[], keys: readonly string[]): Promise<StoreRead[]> {
    const sentAt = performance.now()
    const { generation, slices } = await this.#atGeneration(namespace, (generation, generationKey) =>
      this.#batch({
        stems,
        generation,
        generationKey,
        head: [this.#readLimit],
        perKey: [],
        width: READ_WIDTH,
        send: (target, keys, argv) => target.tiercacheReadBuffer(keys.length, ...keys, ...argv),
      }),
    )
    // Each PTTL is as of when Redis ran the script, at the earliest when it was sent.
    const waited = performance.now() - sentAt
    return slices.map(({ items, now }, i) =>
      this.#toRead(
        namespace,
        keys[i]!,
        formatVersion(generation, now, items[2] as Buffer),
        items[0],
        spent(items[1] as number, waited),
      ),
    )
  }

  /**
   * One key's read on a standalone Redis: the read script with its generation
   * check, straight (the path of every L2 hit: none of the batch's arrays,
   * closures and slices for a batch of one).
   */
  #readOne(namespace: string, stem: string, key: string): Promise<StoreRead> {
    if (this.#cluster) return this.#read(namespace, [stem], [key]).then((reads) => reads[0]!)
    const sentAt = performance.now()
    if (this.#clock.latest(sentAt, STAMP_CLOCK_MS) === undefined) return this.#readScripted(namespace, stem, key)
    const generation = this.#generations.current(namespace)
    const valueKey = `${stem}:${generation}`
    // Known to be too large, or being read this way already (it may be: nothing is known of its
    // size before the answer, and a huge value must not be asked for by every read sent meanwhile).
    if (this.#oversized.has(valueKey) || this.#bareReads.has(valueKey)) return this.#readScripted(namespace, stem, key)
    let sent: Promise<[Buffer | null, Buffer | null]>
    try {
      sent = this.#readBare!.send(this.#keys.generation(namespace), valueKey)
    } catch (error) {
      return Promise.reject(error)
    }
    this.#bareReads.add(valueKey)
    return sent.then(
      ([held, bytes]) => {
        this.#bareReads.delete(valueKey)
        // A purge since this read assumed its generation: the script reads it, and learns the new one.
        const read =
          held === null || held.toString('latin1') !== generation
            ? undefined
            : this.#stamped(namespace, key, valueKey, generation, sentAt, bytes)
        return read ?? this.#readScripted(namespace, stem, key)
      },
      (error: unknown) => {
        this.#bareReads.delete(valueKey)
        throw error
      },
    )
  }

  /**
   * `bytes`, read by MGET at `generation` (which the same MGET confirmed) with
   * a send at `sentAt`, as a read; `undefined` when only the script can say
   * what they are: absent, a tombstone, too large, foreign or unstamped bytes
   * (the script reports what it must), or no recent reading of Redis's clock.
   */
  #stamped(
    namespace: string,
    key: string,
    valueKey: string,
    generation: string,
    sentAt: number,
    bytes: Buffer | null,
  ): StoreRead | undefined {
    const redisNow = this.#clock.latest(performance.now(), STAMP_CLOCK_MS)
    const tooLarge = bytes !== null && bytes.length > this.#readLimit
    if (tooLarge) this.#oversized.add(valueKey)
    const stamp = bytes === null || tooLarge ? undefined : stampOf(bytes)
    // A stamp further ahead than any PX the store gives (bytes written by hand, or damaged) is no expiry to go by.
    if (stamp === undefined || redisNow === undefined || !(stamp - redisNow <= FOREVER_MS)) return undefined
    // Read at no later than it was sent (a version too old for the fence is refused, never one too young).
    const version = versionOfBytes(generation, this.#clock.toRedis(sentAt), bytes!)
    // What PTTL would say, or less: Redis's time is over-estimated. Never -1 (that is "no expiry").
    return this.#toRead(namespace, key, version, bytes, Math.max(0, Math.floor(stamp - redisNow)))
  }

  /**
   * Many keys on a standalone Redis: one MGET of the generation and every
   * value, then the read script for the keys it could not answer (see
   * {@link #stamped}), or for all of them after a purge. A batch of hits costs
   * Redis a plain command instead of a script over every key (getMany of 100
   * hits ran at 0.87× the rate of 100 single gets once those took MGET, issue 15).
   */
  async #readManyBare(namespace: string, stems: readonly string[], keys: readonly string[]): Promise<StoreRead[]> {
    if (this.#cluster) return this.#read(namespace, stems, keys)
    const sentAt = performance.now()
    if (this.#clock.latest(sentAt, STAMP_CLOCK_MS) === undefined) return this.#read(namespace, stems, keys)
    const generation = this.#generations.current(namespace)
    const valueKeys = stems.map((stem) => `${stem}:${generation}`)
    // As for one key: a value known to be too large, or being read this way already, goes to the script.
    // Each key once: MGET sends a value as many times as it is named, and a key repeated in one
    // batch brought a value over the read limit across the wire once per repeat (bytesOf answers them all).
    const bare = [...new Set(valueKeys)].filter(
      (valueKey) => !this.#oversized.has(valueKey) && !this.#bareReads.has(valueKey),
    )
    if (bare.length === 0) return this.#read(namespace, stems, keys)
    const sent = this.#readBare!.sendMany(this.#keys.generation(namespace), bare)
    for (const valueKey of bare) this.#bareReads.add(valueKey)
    let reply: (Buffer | null)[]
    try {
      reply = await sent
    } finally {
      for (const valueKey of bare) this.#bareReads.delete(valueKey)
    }
    const held = reply[0]
    if (held === null || held === undefined || held.toString('latin1') !== generation) {
      return this.#read(namespace, stems, keys)
    }
    const bytesOf = new Map<string, Buffer | null>()
    for (const [i, valueKey] of bare.entries()) bytesOf.set(valueKey, reply[i + 1] ?? null)
    const reads: (StoreRead | undefined)[] = valueKeys.map((valueKey, i) =>
      bytesOf.has(valueKey)
        ? this.#stamped(namespace, keys[i]!, valueKey, generation, sentAt, bytesOf.get(valueKey)!)
        : undefined,
    )
    const rest = reads.flatMap((read, i) => (read === undefined ? [i] : []))
    if (rest.length > 0) {
      const more = await this.#read(
        namespace,
        rest.map((i) => stems[i]!),
        rest.map((i) => keys[i]!),
      )
      rest.forEach((position, i) => {
        reads[position] = more[i]
      })
    }
    return reads as StoreRead[]
  }

  /** {@link #readOne} through the read script, which also learns a purge's new generation. */
  #readScripted(namespace: string, stem: string, key: string, attempt = 0): Promise<StoreRead> {
    if (attempt === GENERATION_ATTEMPTS) {
      return Promise.reject(
        new StoreCallError({
          operation: 'generation',
          kind: 'contention',
          outcome: 'not-applied',
          message: `namespace "${namespace}" was purged during ${GENERATION_ATTEMPTS} attempts`,
        }),
      )
    }
    const generation = this.#generations.current(namespace)
    const sentAt = performance.now()
    return this.#readOneScript!.send(this.#keys.generation(namespace), `${stem}:${generation}`, generation).then(
      (reply) => {
        if (!Array.isArray(reply)) {
          const text = String(reply)
          if (text === 'late') throw new LateCommandError()
          // Purged (or first seen): learn the generation and read again.
          this.#generations.learn(namespace, text)
          return this.#readScripted(namespace, stem, key, attempt + 1)
        }
        const now = reply[reply.length - 1] as number
        const receivedAt = performance.now()
        this.#clock.observe(now, receivedAt, sentAt)
        // Over the limit (its size came instead): the next reads take the script at once.
        if (typeof reply[0] === 'number') this.#oversized.add(`${stem}:${generation}`)
        // Three items: a value that came whole, its version id in its own bytes.
        const version =
          reply.length === 3
            ? versionOfBytes(generation, now, reply[0] as Buffer)
            : formatVersion(generation, now, reply[2] as Buffer)
        return this.#toRead(namespace, key, version, reply[0], spent(reply[1] as number, receivedAt - sentAt))
      },
    )
  }

  /** What the read script found for `key`: bytes (or their size when over the limit, or nothing) and PTTL. */
  #toRead(namespace: string, key: string, version: string, bytes: unknown, pttl: number): StoreRead {
    if (bytes === null || bytes === undefined) return { record: undefined, version }
    if (typeof bytes === 'number') {
      this.#report(
        new StoreCallError({
          operation: 'get',
          kind: 'too-large',
          outcome: 'not-applied',
          cause: new ValueTooLargeError(bytes, this.#options.maxValueBytes),
          namespace,
          key,
        }),
      )
      return { record: undefined, version }
    }
    const opened = open(bytes as Buffer, pttl, version)
    if (opened === DELETED) return { record: undefined, version }
    if (typeof opened === 'string') {
      this.#guard.note('decode')
      this.emit('error', new MalformedRecordError(namespace, key, opened))
      return { record: undefined, version }
    }
    return { record: opened, version }
  }

  #report(error: StoreCallError): void {
    this.emit('error', this.#guard.count(error))
  }

  /**
   * Send writes: unconditional ones at the namespace's current generation
   * (following a purge), conditional ones at the generation they read at, and
   * refused whole when a purge came since.
   */
  async #write(
    namespace: string,
    stems: readonly string[],
    prepared: readonly Prepared[],
    deadline: number,
    announce: AnnounceArgs = NO_ANNOUNCEMENT,
  ): Promise<StoreWriteResult[]> {
    const results: StoreWriteResult[] = new Array(prepared.length)
    const groups = new Map<string | undefined, number[]>()
    prepared.forEach((write, position) => {
      const generation = write.condition?.generation
      const group = groups.get(generation)
      if (group === undefined) groups.set(generation, [position])
      else group.push(position)
    })
    const head = [deadline, this.#options.fenceMs, ...announce]
    const argsOf = (positions: number[]) =>
      positions.map((position) => {
        const { sealed, condition } = prepared[position]!
        return condition === undefined
          ? [sealed.bytes, sealed.px, '', '']
          : [sealed.bytes, sealed.px, Buffer.concat([V, condition.id]), condition.readAt]
      })
    const land = (generation: string, positions: number[], slices: Slice[]) => {
      positions.forEach((position, i) => {
        const { items, now } = slices[i]!
        const reply = items[0]
        results[position] =
          reply === 1
            ? { applied: true, version: formatVersion(generation, now, prepared[position]!.id) }
            : { applied: false, version: formatVersion(generation, now, reply as Buffer) }
      })
    }
    // Each group is its own script, all sent at once: one that Redis refuses (OOM once another
    // group's values took the memory left) says nothing of the others, which may have landed.
    // Its failure alone was reported `not-applied`: a setMany whose first group was written read
    // as nothing written.
    const apart = groups.size > 1
    const partFailed = (error: unknown) => {
      throw apart ? PartFailed.of(error) : error
    }
    const written = [...groups].map(async ([read, positions]) => {
      const send = (generation: string, generationKey: string | undefined) =>
        this.#batch({
          stems: positions.map((position) => stems[position]!),
          generation,
          generationKey,
          head,
          perKey: argsOf(positions),
          width: WRITE_WIDTH,
          send: (target, keys, argv) => target.tiercacheWriteBuffer(keys.length, ...keys, ...argv),
        })
      if (read === undefined) {
        const { generation, slices } = await this.#atGeneration(namespace, send)
        land(generation, positions, slices)
        return
      }
      const found = await this.#checkedAt(namespace, read, send)
      if ('slices' in found) land(read, positions, found.slices)
      // Purged since the read: whatever the script did landed in a generation nobody reads.
      else for (const position of positions) results[position] = { applied: false, version: stale(found.changed) }
    })
    await Promise.all(written.map((group) => group.catch(partFailed)))
    return results
  }

  /**
   * Run `op` with the generation this process believes `namespace` is at, and
   * check that belief in the same round trip (see {@link #checkedAt}). A
   * mismatch means a purge happened: learn the new generation and run again.
   */
  async #atGeneration(
    namespace: string,
    op: (generation: string, generationKey: string | undefined) => Promise<Batch>,
  ): Promise<{ generation: string; slices: Slice[] }> {
    for (let attempt = 0; attempt < GENERATION_ATTEMPTS; attempt++) {
      const generation = this.#generations.current(namespace)
      const batch = await this.#checkedAt(namespace, generation, op)
      if ('slices' in batch) return { generation, slices: batch.slices }
    }
    throw new StoreCallError({
      operation: 'generation',
      kind: 'contention',
      outcome: 'not-applied',
      message: `namespace "${namespace}" was purged during ${GENERATION_ATTEMPTS} attempts`,
    })
  }

  /**
   * Run `op` at `generation` and check it is the namespace's current one:
   * standalone, `op` passes the generation key to its script, which refuses on
   * a mismatch; on a Cluster, the generation key is read in parallel (a write
   * at an old generation is harmless: nobody reads there). Learns what it found.
   */
  async #checkedAt(
    namespace: string,
    generation: string,
    op: (generation: string, generationKey: string | undefined) => Promise<Batch>,
  ): Promise<Batch> {
    const generationKey = this.#keys.generation(namespace)
    if (!this.#cluster) {
      const batch = await op(generation, generationKey)
      if (!('slices' in batch)) this.#generations.learn(namespace, batch.changed)
      return batch
    }
    if (this.#generations.trusted(namespace) && this.#generations.current(namespace) === generation) {
      return op(generation, undefined)
    }
    // A script, not a GET: a missing generation key gets a new generation (see scripts.ts), never '0'.
    const [current, batch] = await Promise.all([
      this.#scripts.tiercacheGeneration(1, generationKey),
      op(generation, undefined),
    ])
    this.#generations.learn(namespace, current)
    return current === generation ? batch : { changed: current }
  }

  /**
   * Send one record script over `stems` at `generation`: standalone as one
   * call with the generation check; on a Cluster as one call per slot, the
   * calls of one node in one pipeline, all nodes at once. Returns each stem's
   * slice of the flat reply (`width` items per key, then Redis's time), or
   * the generation the standalone check found instead.
   */
  async #batch(call: {
    stems: readonly string[]
    generation: string
    generationKey: string | undefined
    head: readonly (string | number | Buffer)[]
    perKey: readonly (Buffer | string | number)[][]
    width: number
    send: (target: ScriptedClient | ScriptedPipeline, keys: string[], argv: (string | Buffer | number)[]) => unknown
  }): Promise<Batch> {
    const { stems, generation, generationKey, head, perKey, width, send } = call
    const keys = stems.map((stem) => `${stem}:${generation}`)
    const slices: Slice[] = new Array(keys.length)
    // Every reply was produced after this: with it, a reply renews the store's reading of Redis's
    // clock (the upper bound a read without a script needs), as a one-key script read does.
    const sentAt = performance.now()
    const take = (positions: readonly number[], reply: unknown) => {
      const items = reply as unknown[]
      const now = Number(items[items.length - 1])
      this.#clock.observe(now, performance.now(), sentAt)
      positions.forEach((position, i) => {
        slices[position] = { items: items.slice(i * width, (i + 1) * width), now }
      })
    }
    if (generationKey !== undefined) {
      const reply = await (send(
        this.#scripts,
        [generationKey, ...keys],
        [generation, ...head, ...perKey.flat()],
      ) as Promise<unknown>)
      if (!Array.isArray(reply)) {
        const text = String(reply)
        if (text === 'late') throw new LateCommandError()
        return { changed: text }
      }
      take(
        keys.map((_, i) => i),
        reply,
      )
      return { slices }
    }
    const byNode = splitBySlot(this.client as Cluster, keys)
    // One script per slot, every node's sent at once: one that its node refuses (OOM) says
    // nothing of the others, which may have run. Its failure alone was reported `not-applied`:
    // a setMany written on two nodes of three read as nothing written.
    const apart = byNode.flat().length > 1
    let late = 0
    const parts = byNode.map(async (nodeGroups) => {
      const argvOf = (positions: number[]) => ['', ...head, ...positions.flatMap((position) => perKey[position] ?? [])]
      const replies: unknown[] = []
      if (nodeGroups.length === 1) {
        const group = nodeGroups[0]!
        replies.push(await (send(this.#scripts, group.keys, argvOf(group.positions)) as Promise<unknown>))
      } else {
        const pipeline = this.client.pipeline() as unknown as ScriptedPipeline
        for (const group of nodeGroups) send(pipeline, group.keys, argvOf(group.positions))
        for (const [error, reply] of (await pipeline.exec()) ?? []) {
          if (error) throw error
          replies.push(reply)
        }
      }
      replies.forEach((reply, i) => {
        if (Array.isArray(reply)) take(nodeGroups[i]!.positions, reply)
        else late++
      })
    })
    await Promise.all(
      apart ? parts.map((part) => part.catch((error: unknown) => Promise.reject(PartFailed.of(error)))) : parts,
    )
    if (late === 0) return { slices }
    if (late === byNode.flat().length) throw new LateCommandError()
    // Some nodes ran their part, others found it late: nobody can say what the batch did.
    throw new StoreCallError({
      operation: 'setMany',
      kind: 'timeout',
      outcome: 'unknown',
      cause: new LateCommandError(),
    })
  }
}

/** An emitter the store listens to (a client, a socket), as far as its listener limit goes. */
interface Listened extends ListenerLimited {
  off(event: 'data' | 'close', listener: () => void): unknown
}

/** The listeners a store adds to its client for as long as it is open: its own 'ready' and its probe's. */
const STORE_CLIENT_LISTENERS = 2

/** What the write and purge scripts take to publish an announcement: command ('' for none), channel, message. */
type AnnounceArgs = readonly [command: string, channel: string, message: string | Buffer]

const NO_ANNOUNCEMENT: AnnounceArgs = ['', '', '']

/** The 'v' that starts a write script's condition argument. */
const V = Buffer.from('v')

/** A version that matches nothing (read as too old): what a write refused by a purge gets. */
function stale(generation: string): string {
  return formatVersion(generation, 0, Buffer.from('!'))
}

/**
 * A PTTL that a script returned `ms` after it was sent, as the time the key has left now: the
 * script ran at the earliest when it was sent, and a reply may wait in the socket (the process
 * busy, paused) long after Redis produced it. PTTL -1 (no expiry) and -2 (absent) stay as they are.
 */
function spent(pttl: number, ms: number): number {
  return pttl < 0 ? pttl : Math.max(0, Math.floor(pttl - ms))
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
