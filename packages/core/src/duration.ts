import { describe } from './describe.js'

/** The units a duration string may use: milliseconds, seconds, minutes, hours, days. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

/**
 * A span of time: a number of milliseconds, or a number with a unit
 * (`'250ms'`, `'30s'`, `'5m'`, `'1.5h'`, `'1d'`). Every duration option of
 * every tiercache package takes one.
 */
export type Duration = number | `${number}${DurationUnit}`

const UNIT_MS: Readonly<Record<DurationUnit, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

// One number (digits, an optional fraction) and one unit, nothing else: no sign, no exponent, no spaces.
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/

/**
 * `value` in milliseconds. A number must be finite and >= 0; a string must be
 * a number followed by `ms`, `s`, `m`, `h` or `d`. Anything else throws a
 * `TypeError` naming `name`. Options are parsed once, where they are given
 * (constructor, call), never on a read.
 *
 * @example
 * parseDuration('5m', 'options.ttl') // 300_000
 * parseDuration(250, 'options.ttl') // 250
 * parseDuration('5 minutes', 'options.ttl') // TypeError: options.ttl must be a duration …
 */
export function parseDuration(value: unknown, name: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value
  } else if (typeof value === 'string') {
    const match = DURATION.exec(value)
    if (match !== null) return Number(match[1]) * UNIT_MS[match[2] as DurationUnit]
  }
  throw new TypeError(
    `${name} must be a duration: a finite number of milliseconds >= 0, or a string such as '250ms', '30s', '5m', '1h' or '1d'; got ${describe(value)}`,
  )
}

/** Like {@link parseDuration}, and `undefined` stays `undefined` (an option not given). */
export function parseOptionalDuration(value: unknown, name: string): number | undefined {
  return value === undefined ? undefined : parseDuration(value, name)
}
