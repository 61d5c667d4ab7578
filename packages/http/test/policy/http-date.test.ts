import { describe, expect, it } from 'vitest'
import { parseHttpDate } from '../../src/policy/http-date.js'

const in2026 = Date.parse('2026-11-30T00:00:00Z')
const nov1994 = Date.parse('1994-11-06T08:49:37Z')

describe('parseHttpDate (RFC 9110 §5.6.7)', () => {
  it('reads the three formats the RFC defines as the same instant', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', in2026)).toBe(nov1994)
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', in2026)).toBe(nov1994)
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', in2026)).toBe(nov1994)
  })

  it('reads a two-digit rfc850 year as at most 50 years ahead: 50 is 2050 in 2026, 94 is 1994', () => {
    expect(parseHttpDate('Monday, 01-Aug-50 00:00:00 GMT', in2026)).toBe(Date.parse('2050-08-01T00:00:00Z'))
    expect(parseHttpDate('Friday, 01-Aug-77 00:00:00 GMT', in2026)).toBe(Date.parse('1977-08-01T00:00:00Z'))
  })

  it('refuses what Date.parse accepts but the grammar does not (an invalid Expires must mean expired)', () => {
    for (const value of [
      '0',
      'Sun, 06 Nov 1994 08:49:37 UTC',
      'Sun, 06 Nov 1994 08:49:37 +1000',
      'Sun, 06 Nov 94 08:49:37 GMT',
      'Sun 06 Nov 1994 08:49:37 GMT',
      'Sun,  06 Nov 1994 08:49:37 GMT',
      'Sun, 06-Nov-1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 08.49.37 GMT',
      'Sun, 06 Nov 1994 8:49:37 GMT',
      'sun, 06 nov 1994 08:49:37 gmt',
      'Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT',
      '1994-11-06T08:49:37Z',
    ]) {
      expect(parseHttpDate(value, in2026), value).toBeUndefined()
    }
  })

  it('refuses dates that do not exist', () => {
    expect(parseHttpDate('Thu, 31 Feb 2024 00:00:00 GMT', in2026)).toBeUndefined()
    expect(parseHttpDate('Thu, 01 Feb 2024 24:00:00 GMT', in2026)).toBeUndefined()
  })
})
