/** A source of milliseconds; injectable so tests can move time by hand. */
export interface Clock {
  now(): number
}

/** The wall clock. */
export const systemClock: Clock = { now: Date.now }
