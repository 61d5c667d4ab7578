/**
 * Set when a set/delete/purge/invalidation makes a running piece of work's
 * result obsolete: it must not be written. A class, not an object literal:
 * V8 pretenures a literal's allocation site once enough of its objects
 * survive a scavenge (every ticket of a Redis read does), and then every
 * ticket is born in old space and only a mark-compact frees it.
 */
export class Ticket {
  superseded = false
}

/**
 * The flight of one key, as the map holds it: the promise is dropped as it
 * settles. Holding the promise itself in the map kept each settled promise,
 * its reactions and its value reachable from an old-space table until the
 * key's next flight, and V8 promoted them (measured in issue 15: 300-475 MB
 * promoted per 5 s of Redis hits, against 41 MB with this holder).
 */
class Flight<T> {
  promise: Promise<T> | undefined
  /** When it started, by the monotonic clock (a paused process must see the real time). */
  readonly startedAt = performance.now()
  constructor(promise: Promise<T>) {
    this.promise = promise
  }
}

/**
 * In-process single flight: one promise per key, cleared when it settles
 * (async-cache-dedupe's `Map<key, Promise>`), plus a ticket for EVERY piece of
 * running work on a key that may write L1 or the store (a load, a refresh, a
 * read without a loader, a bulk read or load, a resurrect), so a write that
 * lands meanwhile reaches them all. Tickets are dropped when their work
 * settles: the maps hold only what runs.
 */
export class SingleFlight<T> {
  readonly #flights = new Map<string, Flight<T>>()
  /** One ticket per key in the common case (one load), a set when more work runs on it: no set allocated per miss. */
  readonly #tickets = new Map<string, Ticket | Set<Ticket>>()
  /** Who waits for `idle`. */
  readonly #idle: (() => void)[] = []

  /**
   * The running flight of `key`, if any that started at or after `since`
   * (`performance.now()` ms): an older one may have read the store before a
   * write this process has not heard of yet (see `TierCache`'s trust of L1).
   */
  get(key: string, since = Number.NEGATIVE_INFINITY): Promise<T> | undefined {
    const flight = this.#flights.get(key)
    return flight !== undefined && flight.startedAt >= since ? flight.promise : undefined
  }

  has(key: string): boolean {
    return this.#flights.has(key)
  }

  /** Start `run` as the flight of `key`; callers of `get(key)` join it until it settles. */
  start(key: string, run: (ticket: Ticket) => Promise<T>): Promise<T> {
    const ticket = this.mark(key)
    const promise = run(ticket)
    this.#fly(key, promise, ticket)
    return promise
  }

  /** Register a promise settled elsewhere (a bulk read or load) as the flight of `key`. */
  adopt(key: string, promise: Promise<T>): Ticket {
    const ticket = this.mark(key)
    this.#fly(key, promise, ticket)
    return ticket
  }

  #fly(key: string, promise: Promise<T>, ticket: Ticket): void {
    const flight = new Flight(promise)
    this.#flights.set(key, flight)
    const land = () => {
      flight.promise = undefined
      if (this.#flights.get(key) === flight) this.#flights.delete(key)
      this.unmark(key, ticket)
    }
    promise.then(land, land)
  }

  /** New callers of `key` start a new flight rather than join `promise` (its callers all left); it may still write. */
  detach(key: string, promise: Promise<T>): void {
    if (this.#flights.get(key)?.promise === promise) this.#flights.delete(key)
  }

  /** A ticket for work on `key` that callers do not join (a refresh, a read without a loader); `unmark` it when done. */
  mark(key: string): Ticket {
    const ticket = new Ticket()
    const held = this.#tickets.get(key)
    if (held === undefined) this.#tickets.set(key, ticket)
    else if (held instanceof Set) held.add(ticket)
    else this.#tickets.set(key, new Set([held, ticket]))
    return ticket
  }

  unmark(key: string, ticket: Ticket): void {
    const held = this.#tickets.get(key)
    if (held === ticket || (held instanceof Set && held.delete(ticket) && held.size === 0)) this.#tickets.delete(key)
    if (this.#tickets.size === 0 && this.#idle.length > 0) for (const resolve of this.#idle.splice(0)) resolve()
  }

  /** Resolves once no work holds a ticket: every load, refresh and read has settled. */
  idle(): Promise<void> {
    if (this.#tickets.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /**
   * Every running piece of work on `key` must not write its result, and
   * callers from now on start a new flight rather than join one that read
   * before the write.
   */
  supersede(key: string): void {
    const held = this.#tickets.get(key)
    if (held !== undefined) markSuperseded(held)
    this.#flights.delete(key)
  }

  /**
   * Callers from now on start new flights rather than join the running ones,
   * which go on and still write their results (a tag operation: their
   * results are judged by their stamps, but a caller arriving after the
   * operation must not get a value loaded before it).
   */
  detachAll(): void {
    this.#flights.clear()
  }

  supersedeAll(): void {
    for (const held of this.#tickets.values()) markSuperseded(held)
    this.#flights.clear()
  }

  /** Keys with running work, for tests of the bound. */
  get size(): number {
    return this.#tickets.size
  }
}

function markSuperseded(held: Ticket | Set<Ticket>): void {
  if (held instanceof Set) for (const ticket of held) ticket.superseded = true
  else held.superseded = true
}
