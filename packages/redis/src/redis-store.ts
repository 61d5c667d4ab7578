import { type DecodeError, type SharedStore, StoreError, type StoreRecord, type StoreWrite } from '@tiercache/core'
import { EventEmitter } from 'eventemitter3'
import { type Cluster, Redis } from 'ioredis'
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js'
import { splitBySlot } from './cluster-batch.js'
import { CommandGuard } from './command-guard.js'
import { open, seal } from './envelope.js'
import { MalformedRecordError } from './errors.js'
import { Generations } from './generations.js'
import { KeySpace } from './keys.js'
import { type RedisStoreOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { RedisLock } from './redis-lock.js'
import { ReleaseListener } from './release-listener.js'
import { registerScripts, type ScriptedClient, type ScriptedPipeline } from './scripts.js'

/** Events of `RedisStore`. Failures of a call reject that call; these are the ones nobody awaits. */
export interface RedisStoreEvents {
  /**
   * Bytes under a cache key were not a record (read as a miss: `DecodeError`),
   * or a connection the store owns failed (`StoreError`).
   */
  error: (error: StoreError | DecodeError) => void
  /** The circuit breaker changed state. */
  circuit: (state: CircuitState) => void
}

/** ioredis settings for a client the store makes from a url: no command waits through 20 reconnects. */
const OWN_CLIENT = { maxRetriesPerRequest: 1, connectTimeout: 2000 } as const

/** A record script found the namespace at another generation than the keys were built with. */
class GenerationChanged {
  constructor(readonly generation: string) {}
}

/** How many times an operation follows a changing generation before giving up. */
const GENERATION_ATTEMPTS = 5

type Reply = (Buffer | number | null)[]

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
  readonly #ownsClient: boolean
  readonly #cluster: boolean
  readonly #keys: KeySpace
  readonly #scripts: ScriptedClient
  readonly #guard: CommandGuard
  readonly #breaker: CircuitBreaker
  readonly #generations: Generations
  readonly #listener: ReleaseListener

  constructor(options: RedisStoreOptions) {
    super()
    this.#options = resolveOptions(options)
    this.#ownsClient = options.client === undefined
    this.client = options.client ?? new Redis(options.url as string, { ...OWN_CLIENT, ...options.redis })
    if (this.#ownsClient) this.client.on('error', (error) => this.emit('error', new StoreError('connect', error)))
    this.#cluster = this.client.isCluster
    this.#keys = new KeySpace(this.#options.prefix)
    this.#scripts = registerScripts(this.client)
    this.#breaker = new CircuitBreaker({
      failureThreshold: this.#options.failureThreshold,
      openMs: this.#options.breakerOpenMs,
      onChange: (state) => this.emit('circuit', state),
      now: () => performance.now(),
    })
    this.#guard = new CommandGuard(this.client, this.#breaker, this.#options.commandTimeoutMs)
    this.#generations = new Generations(this.#cluster ? this.#options.generationTrustMs : 0, () => performance.now())
    this.#listener = new ReleaseListener(this.client, this.#keys.releaseChannel, (error) =>
      this.emit('error', error instanceof StoreError ? error : new StoreError('subscribe', error)),
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
  }

  /** The circuit breaker's state: `open` while calls are refused without trying Redis. */
  get circuit(): CircuitState {
    return this.#breaker.state
  }

  /** Read one record with its remaining fresh and kept time by Redis's clock; `undefined` when absent or unreadable. */
  get(namespace: string, key: string): Promise<StoreRecord | undefined> {
    // Not async: a bad key must still reject (not throw), and a read needs no extra promise hop.
    let stems: string[]
    try {
      stems = [this.#keys.stem(namespace, key)]
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#guard.run('get', () => this.#read(namespace, stems, [key])).then((records) => records[0])
  }

  /** Read many records in one round trip (one per node on a Cluster), in the order of `keys`. */
  async getMany(namespace: string, keys: readonly string[]): Promise<(StoreRecord | undefined)[]> {
    if (!Array.isArray(keys)) throw new TypeError('keys must be an array of strings')
    const stems = keys.map((key) => this.#keys.stem(namespace, key))
    if (stems.length === 0) return []
    return this.#guard.run('getMany', () => this.#read(namespace, stems, keys))
  }

  /** Write one record; Redis keeps it `write.keepMs` (PX), its stale window recorded in the envelope. */
  async set(namespace: string, key: string, write: StoreWrite): Promise<void> {
    const stems = [this.#keys.stem(namespace, key)]
    const args = sealArgs([write])
    await this.#guard.run('set', () => this.#write(namespace, stems, args))
  }

  /** Write many records in one round trip (one per node on a Cluster). */
  async setMany(namespace: string, entries: readonly (readonly [key: string, write: StoreWrite])[]): Promise<void> {
    if (!Array.isArray(entries)) throw new TypeError('entries must be an array of [key, write] pairs')
    const stems = entries.map(([key]) => this.#keys.stem(namespace, key))
    const args = sealArgs(entries.map(([, write]) => write))
    if (stems.length === 0) return
    await this.#guard.run('setMany', () => this.#write(namespace, stems, args))
  }

  /** Delete one record (of the namespace's current generation; older ones are unreachable already). */
  async delete(namespace: string, key: string): Promise<void> {
    const stems = [this.#keys.stem(namespace, key)]
    await this.#guard.run('delete', () =>
      this.#atGeneration(namespace, (generation, generationKey) =>
        this.#batch(stems, generation, generationKey, [], (target, keys, argv) =>
          target.tiercacheRemove(keys.length, ...keys, ...argv),
        ).then((replies) => changedIn(replies)),
      ),
    )
  }

  /**
   * Make every record of `namespace` unreachable in O(1): INCR its generation.
   * Records of older generations expire by their own PX.
   */
  async purge(namespace: string): Promise<void> {
    const generationKey = this.#keys.generation(namespace)
    const generation = await this.#guard.run('purge', () => this.client.incr(generationKey))
    this.#generations.learn(namespace, String(generation))
  }

  /** Close the subscriber connection, and the client if the store made it from `url`. */
  async close(): Promise<void> {
    await this.#listener.close()
    if (!this.#ownsClient) return
    await Promise.race([this.client.quit().catch(() => undefined), delay(this.#options.commandTimeoutMs)])
    this.client.disconnect()
  }

  async #read(namespace: string, stems: string[], keys: readonly string[]): Promise<(StoreRecord | undefined)[]> {
    const replies = await this.#atGeneration(namespace, (generation, generationKey) =>
      this.#batch(stems, generation, generationKey, [], (target, keys, argv) =>
        target.tiercacheReadBuffer(keys.length, ...keys, ...argv),
      ).then((replies) => changedIn(replies) ?? replies),
    )
    const records: (StoreRecord | undefined)[] = new Array(stems.length)
    for (let i = 0; i < stems.length; i++) {
      const reply = (replies as Reply[])[i]!
      const bytes = reply[0]
      if (bytes === null || bytes === undefined) {
        records[i] = undefined
        continue
      }
      const opened = open(bytes as Buffer, reply[1] as number)
      if (typeof opened === 'string') {
        this.emit('error', new MalformedRecordError(namespace, keys[i]!, opened))
        records[i] = undefined
      } else {
        records[i] = opened
      }
    }
    return records
  }

  #write(namespace: string, stems: string[], args: (Buffer | number)[][]): Promise<void> {
    return this.#atGeneration(namespace, (generation, generationKey) =>
      this.#batch(stems, generation, generationKey, args, (target, keys, argv) =>
        target.tiercacheWrite(keys.length, ...keys, ...argv),
      ).then((replies) => changedIn(replies)),
    )
  }

  /**
   * Run `op` with the generation this process believes `namespace` is at, and
   * check that belief in the same round trip: standalone, `op` passes the
   * generation key to its script, which refuses on a mismatch; on a Cluster,
   * the generation key is read in parallel. A mismatch means a purge happened:
   * learn the new generation and run again.
   */
  async #atGeneration<T>(
    namespace: string,
    op: (generation: string, generationKey: string | undefined) => Promise<T | GenerationChanged>,
  ): Promise<Exclude<T, GenerationChanged>> {
    const generationKey = this.#keys.generation(namespace)
    for (let attempt = 0; attempt < GENERATION_ATTEMPTS; attempt++) {
      const generation = this.#generations.current(namespace)
      if (!this.#cluster) {
        const reply = await op(generation, generationKey)
        if (!(reply instanceof GenerationChanged)) return reply as Exclude<T, GenerationChanged>
        this.#generations.learn(namespace, reply.generation)
        continue
      }
      if (this.#generations.trusted(namespace))
        return (await op(generation, undefined)) as Exclude<T, GenerationChanged>
      const [current, reply] = await Promise.all([this.client.get(generationKey), op(generation, undefined)])
      this.#generations.learn(namespace, current ?? '0')
      if ((current ?? '0') === generation) return reply as Exclude<T, GenerationChanged>
    }
    throw new StoreError(
      'generation',
      undefined,
      `namespace "${namespace}" was purged during ${GENERATION_ATTEMPTS} attempts`,
    )
  }

  /**
   * Send one record script over `stems` at `generation`: standalone as one
   * call with the generation check; on a Cluster as one call per slot, the
   * calls of one node in one pipeline, all nodes at once. Returns, per stem,
   * its slice of the script's flat reply (or, standalone, the whole reply
   * when the generation check refused).
   */
  async #batch(
    stems: readonly string[],
    generation: string,
    generationKey: string | undefined,
    args: readonly (Buffer | number)[][],
    call: (target: ScriptedClient | ScriptedPipeline, keys: string[], argv: (string | Buffer | number)[]) => unknown,
  ): Promise<unknown[]> {
    const keys = stems.map((stem) => `${stem}:${generation}`)
    if (generationKey !== undefined) {
      const reply = await (call(
        this.#scripts,
        [generationKey, ...keys],
        [generation, ...args.flat()],
      ) as Promise<unknown>)
      return spread(reply, keys.length)
    }
    const out: unknown[] = new Array(keys.length)
    await Promise.all(
      splitBySlot(this.client as Cluster, keys).map(async (groups) => {
        const argvOf = (positions: number[]) => ['', ...positions.flatMap((position) => args[position] ?? [])]
        if (groups.length === 1) {
          const group = groups[0]!
          const reply = await (call(this.#scripts, group.keys, argvOf(group.positions)) as Promise<unknown>)
          place(out, group.positions, reply)
          return
        }
        const pipeline = this.client.pipeline() as unknown as ScriptedPipeline
        for (const group of groups) call(pipeline, group.keys, argvOf(group.positions))
        const results = (await pipeline.exec()) ?? []
        results.forEach(([error, reply], i) => {
          if (error) throw error
          place(out, groups[i]!.positions, reply)
        })
      }),
    )
    return out
  }
}

/** Standalone reply → per-key slices; a non-array reply is the generation check's refusal, kept whole. */
function spread(reply: unknown, count: number): unknown[] {
  if (!Array.isArray(reply)) return [reply]
  const out: unknown[] = new Array(count)
  place(
    out,
    Array.from({ length: count }, (_, i) => i),
    reply,
  )
  return out
}

/** Put a script's reply for the keys at `positions` into `out`: a read yields two items per key, others one 'OK'. */
function place(out: unknown[], positions: readonly number[], reply: unknown): void {
  if (!Array.isArray(reply)) {
    for (const position of positions) out[position] = reply
    return
  }
  positions.forEach((position, i) => {
    out[position] = [reply[i * 2], reply[i * 2 + 1]]
  })
}

/** The generation a record script reported instead of doing its work, if it did. */
function changedIn(replies: unknown[]): GenerationChanged | undefined {
  const first = replies[0]
  if (first === undefined || Array.isArray(first) || first === 'OK') return undefined
  return new GenerationChanged(String(first))
}

/** Validate writes and turn each into its script arguments: envelope bytes, PX. */
function sealArgs(writes: readonly StoreWrite[]): (Buffer | number)[][] {
  return writes.map((write, i) => {
    const name = writes.length === 1 ? 'write' : `entries[${i}][1]`
    if (typeof write !== 'object' || write === null) throw new TypeError(`${name} must be a StoreWrite object`)
    const { data, freshMs, keepMs, staleMs } = write
    if (data !== undefined && !(data instanceof Uint8Array)) {
      throw new TypeError(`${name}.data must be a Uint8Array or undefined`)
    }
    if (typeof freshMs !== 'number' || Number.isNaN(freshMs)) throw new TypeError(`${name}.freshMs must be a number`)
    if (typeof keepMs !== 'number' || Number.isNaN(keepMs) || keepMs < freshMs) {
      throw new TypeError(`${name}.keepMs must be a number >= freshMs`)
    }
    if (staleMs !== undefined && (typeof staleMs !== 'number' || Number.isNaN(staleMs) || staleMs < 0)) {
      throw new TypeError(`${name}.staleMs must be a number >= 0 or undefined`)
    }
    const sealed = seal(data, freshMs, keepMs, staleMs)
    return [sealed.bytes, sealed.px]
  })
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
