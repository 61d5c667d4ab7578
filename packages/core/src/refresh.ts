import type { Backoff } from './backoff.js'
import type { Clock } from './clock.js'
import { orAfter } from './deadline.js'
import type { Entry } from './entry.js'
import type { Load } from './loader.js'
import { type GetInfo, info } from './result.js'
import type { SingleFlight, Ticket } from './single-flight.js'
import type { Stats } from './stats.js'

/**
 * What a stale value is refreshed with: its key, the call's freshness, the
 * loader, and the store version the stale value was read at, if it was.
 */
export type RefreshRequest<V> = Pick<Load<V>, 'key' | 'f' | 'loader' | 'hardTimeout'> & {
  readonly version?: Load<V>['version']
}

/** How a {@link Refresher} is wired into its cache. */
export interface RefresherOptions<V> {
  readonly clock: Clock
  readonly stats: Stats
  readonly flights: SingleFlight<GetInfo<V>>
  /** When a key whose refresh failed may be refreshed again. */
  readonly backoff: Backoff
  /** Runs a refresh's load (the load pipeline, given here so this file does not import it). */
  readonly load: (load: Load<V>) => Promise<GetInfo<V>>
}

/**
 * Stale serving: a value past its TTL is served at once while exactly one
 * background refresh per key runs on this node; after a failed refresh the
 * key waits out its backoff (backoff.ts) before the next, so an origin outage is not hammered
 * on every read. Also the soft timeout, which serves a kept value when a load
 * takes too long.
 */
export class Refresher<V> {
  readonly #o: RefresherOptions<V>
  /** Keys with a background refresh running on this node. */
  readonly #running = new Set<string>()
  constructor(options: RefresherOptions<V>) {
    this.#o = options
  }

  /**
   * Serve `entry` stale now and start one background refresh (if none runs).
   * `inFlight`: called from the key's own flight, which already guards the key.
   */
  serveStale(request: RefreshRequest<V>, entry: Entry<V>, inFlight = false): GetInfo<V> {
    this.#o.stats.stale(request.key, 'refreshing')
    this.#start(request, entry, inFlight)
    return info(entry, 4, 'refreshing')
  }

  /**
   * `entry` is fresh but past its refresh-ahead point: start one background
   * refresh (if none runs and the key is not backing off). Through the
   * distributed lock like any refresh, so one process of the fleet refreshes.
   */
  refreshAhead(request: RefreshRequest<V>, entry: Entry<V>, inFlight = false): void {
    this.#start(request, entry, inFlight, true)
  }

  /** Race a load against the soft timeout: past `held.ms`, callers get the held entry while the load goes on. */
  softTimeout(
    flight: Promise<GetInfo<V>>,
    held: { readonly key: string; readonly entry: Entry<V>; readonly ms: number },
  ): Promise<GetInfo<V>> {
    return orAfter(flight, held.ms, () => {
      this.#o.stats.stale(held.key, 'soft-timeout')
      return info(held.entry, 4, 'soft-timeout')
    })
  }

  /**
   * A load of `key` failed while a stale or resurrected value is served (or a
   * refresh gave up): no refresh starts before its backoff. Resolves to that wait
   * in ms, grown from `firstMs` when given (a resurrection's `resurrectTtl`).
   */
  failed(key: string, firstMs?: number): number {
    return this.#o.backoff.failed(key, firstMs)
  }

  /** Keys with backoff state (for tests and heap checks). */
  get backingOff(): number {
    return this.#o.backoff.size
  }

  /** A load of `key` landed a value: the next failure starts its backoff over. */
  succeeded(key: string): void {
    this.#o.backoff.forget(key)
  }

  /** `key` changed elsewhere: a past failure says nothing about its next refresh. */
  forget(key: string): void {
    this.#o.backoff.forget(key)
  }

  forgetAll(): void {
    this.#o.backoff.forgetAll()
  }

  /**
   * Start one refresh of a stale key unless one runs (or a load of it runs,
   * when not called from that very load), or the last one failed too recently.
   */
  #start(request: RefreshRequest<V>, entry: Entry<V>, inFlight: boolean, ahead = false): void {
    const { key } = request
    const flights = this.#o.flights
    if (this.#running.has(key) || (!inFlight && flights.has(key))) return
    if (this.#o.backoff.waiting(key)) return
    this.#running.add(key)
    this.#o.stats.refresh(key)
    // Its own ticket, even from inside a flight: the flight settles now, the refresh later.
    const ticket = flights.mark(key)
    // The stale answer first: the refresh's first store command (its lock) is sent after the
    // callers served now have their value, not before (issue 15). Deduplicated and ticketed
    // already, so nothing can start a second refresh or miss a write meanwhile.
    setImmediate(() => this.#refresh(request, entry, ticket, ahead))
  }

  #refresh(request: RefreshRequest<V>, entry: Entry<V>, ticket: Ticket, ahead: boolean): void {
    const { key, f, loader, version } = request
    this.#o
      .load({
        key,
        f,
        loader,
        kept: entry,
        ticket,
        refreshing: true,
        version,
        // Read together with its version, the entry is the store's record at it.
        previous: version === undefined ? undefined : entry,
        hardTimeout: request.hardTimeout,
        ahead,
      })
      .catch((error: unknown) => this.#o.stats.error(error, key))
      .finally(() => {
        this.#running.delete(key)
        this.#o.flights.unmark(key, ticket)
      })
  }
}
