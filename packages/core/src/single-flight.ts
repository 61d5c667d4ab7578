/** Set when a set/delete/purge/invalidation makes a running load's result obsolete: it must not be written. */
export interface Ticket {
  superseded: boolean
}

/**
 * In-process single flight: one promise per key, cleared when it settles
 * (async-cache-dedupe's `Map<key, Promise>`), plus a ticket per running load
 * so a write that lands meanwhile can tell the load not to overwrite it.
 */
export class SingleFlight<T> {
  readonly #promises = new Map<string, Promise<T>>()
  readonly #tickets = new Map<string, Ticket>()

  /** The running flight of `key`, if any. */
  get(key: string): Promise<T> | undefined {
    return this.#promises.get(key)
  }

  has(key: string): boolean {
    return this.#promises.has(key)
  }

  /** Start `run` as the flight of `key`; callers of `get(key)` join it until it settles. */
  start(key: string, run: (ticket: Ticket) => Promise<T>): Promise<T> {
    const ticket = this.mark(key)
    const promise = run(ticket)
    this.#fly(key, promise, ticket)
    return promise
  }

  /** Register a promise settled elsewhere (a bulk load) as the flight of `key`. */
  adopt(key: string, promise: Promise<T>): Ticket {
    const ticket = this.mark(key)
    this.#fly(key, promise, ticket)
    return ticket
  }

  #fly(key: string, promise: Promise<T>, ticket: Ticket): void {
    this.#promises.set(key, promise)
    const land = () => {
      if (this.#promises.get(key) === promise) this.#promises.delete(key)
      this.unmark(key, ticket)
    }
    promise.then(land, land)
  }

  /** A ticket for work on `key` that callers do not join (a background refresh). */
  mark(key: string): Ticket {
    const ticket: Ticket = { superseded: false }
    this.#tickets.set(key, ticket)
    return ticket
  }

  unmark(key: string, ticket: Ticket): void {
    if (this.#tickets.get(key) === ticket) this.#tickets.delete(key)
  }

  /** The running work on `key` must not write its result. */
  supersede(key: string): void {
    const ticket = this.#tickets.get(key)
    if (ticket !== undefined) ticket.superseded = true
  }

  supersedeAll(): void {
    for (const ticket of this.#tickets.values()) ticket.superseded = true
  }
}
