import type { HeaderMap } from '../headers.js'

/** 2^31 seconds: RFC 9111 §1.2.2 says larger delta-seconds are to be read as this. */
const MAX_DELTA_SECONDS = 2_147_483_648

/**
 * The `Age` a response arrived with, in seconds (RFC 9111 §5.1). `Age` is a
 * single delta-seconds, but origins and proxies send lists and repeated lines:
 * the first value counts (`7200, 0` is 7200, two lines `7200` and `0` are 7200),
 * as every surveyed cache reads it. A first value that is not a non-negative
 * integer (`-1`, `1.5`, `abc`) makes the field invalid, and an invalid `Age` is
 * ignored (§5.1: "a cache SHOULD ignore" it), i.e. 0. Values past 2^31 read as 2^31.
 */
export function ageFieldSeconds(headers: HeaderMap): number {
  const field = headers.age
  if (field === undefined) return 0
  const firstLine = typeof field === 'string' ? field : (field[0] ?? '')
  const first = firstLine.split(',')[0]!.trim()
  if (!/^\d+$/.test(first)) return 0
  return Math.min(Number(first), MAX_DELTA_SECONDS)
}
