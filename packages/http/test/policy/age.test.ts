import { describe, expect, it } from 'vitest'
import { ageFieldSeconds } from '../../src/policy/age.js'

describe('ageFieldSeconds (RFC 9111 §5.1)', () => {
  it('reads delta-seconds, capped at 2^31', () => {
    expect(ageFieldSeconds({})).toBe(0)
    expect(ageFieldSeconds({ age: '30' })).toBe(30)
    expect(ageFieldSeconds({ age: '0030' })).toBe(30)
    expect(ageFieldSeconds({ age: '99999999999' })).toBe(2_147_483_648)
  })

  it('takes the first value of a list or of repeated lines (regression: "7200, 0" was read as 0)', () => {
    expect(ageFieldSeconds({ age: '7200, 0' })).toBe(7200)
    expect(ageFieldSeconds({ age: '0, 7200' })).toBe(0)
    expect(ageFieldSeconds({ age: ['7200', '0'] })).toBe(7200)
    expect(ageFieldSeconds({ age: ['0', '7200'] })).toBe(0)
  })

  it('ignores an invalid first value (negative, fractional, not a number)', () => {
    for (const age of ['-7200', '7200.0', 'abc', '', ' , 5']) expect(ageFieldSeconds({ age }), age).toBe(0)
  })
})
