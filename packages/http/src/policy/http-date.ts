const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const

const DAY = DAYS.join('|')
const MONTH = MONTHS.join('|')
const TIME = '(\\d\\d):(\\d\\d):(\\d\\d)'
/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(`^(?:${DAY}), (\\d\\d) (${MONTH}) (\\d{4}) ${TIME} GMT$`)
/** `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete) */
const RFC850_DATE = new RegExp(`^(?:${LONG_DAYS.join('|')}), (\\d\\d)-(${MONTH})-(\\d\\d) ${TIME} GMT$`)
/** `Sun Nov  6 08:49:37 1994` (obsolete) */
const ASCTIME_DATE = new RegExp(`^(?:${DAY}) (${MONTH}) ([ \\d]\\d) ${TIME} (\\d{4})$`)

/**
 * An HTTP-date (RFC 9110 §5.6.7) as epoch milliseconds, `undefined` when the
 * value is not one. Only the three formats the RFC defines are accepted, case
 * and spacing exactly as written there, because `Date.parse` accepts far more
 * (`UTC`, other zones, one-digit hours, two-digit years in the IMF format) and
 * RFC 9111 §5.3 makes an invalid `Expires` mean "already expired" — reading such
 * a value as a date would make a stale response fresh.
 *
 * A two-digit rfc850 year is read as the year with those last two digits that is
 * not more than 50 years in the future of `now` (RFC 9110 §5.6.7), so in 2026
 * `50` is 2050 and `94` is 1994.
 */
export function parseHttpDate(value: string, now: number = Date.now()): number | undefined {
  const imf = IMF_FIXDATE.exec(value)
  if (imf !== null) return utc(Number(imf[3]), imf[2]!, Number(imf[1]), imf.slice(4, 7))
  const rfc850 = RFC850_DATE.exec(value)
  if (rfc850 !== null) return utc(rfc850Year(Number(rfc850[3]), now), rfc850[2]!, Number(rfc850[1]), rfc850.slice(4, 7))
  const asctime = ASCTIME_DATE.exec(value)
  if (asctime !== null) return utc(Number(asctime[6]), asctime[1]!, Number(asctime[2]), asctime.slice(3, 6))
  return undefined
}

/** The full year of a two-digit rfc850 year: at most 50 years after `now`'s year (RFC 9110 §5.6.7). */
function rfc850Year(twoDigits: number, now: number): number {
  const current = new Date(now).getUTCFullYear()
  let year = current - (current % 100) + twoDigits
  if (year > current + 50) year -= 100
  return year
}

/** Epoch ms of a calendar date, `undefined` for one that does not exist (31 Feb, 25:00). */
function utc(year: number, monthName: string, day: number, time: readonly string[]): number | undefined {
  const [h, m, s] = time.map(Number) as [number, number, number]
  const month = MONTHS.indexOf(monthName as (typeof MONTHS)[number])
  // second 60: a leap second (RFC 9110 §5.6.7 allows it); it is read as the next minute's first.
  if (h > 23 || m > 59 || s > 60) return undefined
  const ms = Date.UTC(year, month, day, h, m, s)
  const check = new Date(Date.UTC(year, month, day))
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month || check.getUTCDate() !== day) return undefined
  return ms
}
