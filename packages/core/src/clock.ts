import { describe } from './describe.js'

/**
 * A source of milliseconds for everything the cache times in this process (L1
 * TTLs, the stale and resurrect windows, MemoryStore records, lock leases);
 * injectable so tests can move time by hand. Only differences between two
 * readings matter: times never leave the process as instants (the store
 * contract speaks in remaining ms).
 */
export interface Clock {
  now(): number
}

/** Read once: `performance.timeOrigin` is a getter that costs as much as the clock read itself. */
const origin = performance.timeOrigin

/**
 * A monotonic clock (`performance.now()`), offset by the process's start so it
 * reads like `Date.now()` (whole ms). Unlike the wall clock it never steps back (an NTP
 * correction, a VM restored, an operator's `date -s`): a backward step of the
 * wall clock would otherwise extend every L1 entry by the step.
 */
function monotonicNow(): number {
  // Whole milliseconds, as Date.now() gave: readers (store versions, lru-cache TTLs) count in them.
  return Math.floor(origin + performance.now())
}

let cachedNow = 0
const forget = () => {
  cachedNow = 0
}

/**
 * The monotonic clock, read at most once per millisecond: on this class of VM
 * a clock read costs ~50 ns, half of an L1 hit. Like nginx, which caches its
 * time once per event-loop turn, the value is reused until a timer clears it,
 * so a chain of microtasks that never yields to the event loop sees one time.
 * Freshness is therefore exact to within one event-loop turn.
 */
export const systemClock: Clock = {
  now(): number {
    if (cachedNow !== 0) return cachedNow
    cachedNow = monotonicNow()
    setTimeout(forget, 1).unref()
    return cachedNow
  },
}

/** The monotonic clock read on every call, for callers that need each millisecond. */
export const preciseClock: Clock = { now: monotonicNow }

/**
 * Throws a `TypeError` naming `name` unless `value` is a {@link Clock}: one
 * without `now()` failed only at the first read, naming nothing.
 */
export function checkClock(value: unknown, name: string): asserts value is Clock | undefined {
  if (value === undefined) return
  if (typeof (value as Partial<Clock> | null)?.now !== 'function') {
    throw new TypeError(`${name} must be a Clock, an object with a now() method, got ${describe(value)}`)
  }
}
