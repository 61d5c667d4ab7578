import { describe, expect, it } from 'vitest'
import { DELETED, FOREVER_MS, open, sealTombstone, seal as sealWrite, stampOf } from '../src/envelope.js'

const ID = Buffer.alloc(16, 7)
const seal = (data: Uint8Array | undefined, freshMs: number, keepMs: number, staleMs?: number) =>
  sealWrite({ data, freshMs, keepMs, staleMs }, ID)

const bytes = (...values: number[]) => Uint8Array.from(values)

describe('envelope', () => {
  it('records the stale window and gives Redis keepMs as PX', () => {
    const sealed = seal(bytes(1, 2, 3), 1_000, 5_000)
    expect(sealed.px).toBe(5_000)
    expect(sealed.bytes.length).toBe(32 + 3)
    expect(sealed.bytes[0]).toBe(0xcc)
    expect(sealed.bytes.subarray(8, 24).equals(ID)).toBe(true)
    // The expiry stamp is the write script's to fill: the client leaves zeros, which read as no stamp.
    expect(Array.from(sealed.bytes.subarray(24, 32))).toEqual(Array(8).fill(0))
    expect(stampOf(sealed.bytes)).toBeUndefined()
    // Redis reports 4_500 ms left: 500 ms fresh, then 4_000 stale.
    const opened = open(sealed.bytes, 4_500)
    expect(opened).toEqual({ data: expect.any(Uint8Array), freshMs: 500, keepMs: 4_500 })
    expect(Array.from((opened as { data: Uint8Array }).data)).toEqual([1, 2, 3])
  })

  it('reads a record as stale once PTTL falls under the stale window', () => {
    const sealed = seal(bytes(9), 1_000, 5_000)
    expect((open(sealed.bytes, 3_000) as { freshMs: number }).freshMs).toBe(-1_000)
  })

  it('keeps negative entries apart from empty values', () => {
    const negative = open(seal(undefined, 100, 100).bytes, 100)
    const empty = open(seal(new Uint8Array(0), 100, 100).bytes, 100)
    expect(negative).toMatchObject({ data: undefined })
    expect((empty as { data: Uint8Array }).data).toBeInstanceOf(Uint8Array)
    expect((empty as { data: Uint8Array }).data.length).toBe(0)
  })

  it('maps Infinity to a ten-year PX and back to Infinity', () => {
    const never = seal(bytes(1), Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY)
    expect(never.px).toBe(FOREVER_MS)
    expect(open(never.bytes, FOREVER_MS - 10)).toMatchObject({ freshMs: Infinity, keepMs: Infinity })
    const keptForever = seal(bytes(1), 1_000, Number.POSITIVE_INFINITY)
    const opened = open(keptForever.bytes, FOREVER_MS - 10) as { freshMs: number; keepMs: number }
    expect(opened.freshMs).toBe(990)
    expect(opened.keepMs).toBe(Infinity)
  })

  it('never asks Redis for a PX below 1 ms', () => {
    expect(seal(bytes(1), 0, 0).px).toBe(1)
    expect(seal(bytes(1), 0.2, 0.4).px).toBe(1)
  })

  it("carries the writer's staleMs when given, Infinity included", () => {
    expect(open(seal(bytes(1), 1_000, 5_000).bytes, 5_000)).not.toHaveProperty('staleMs')
    const withStale = seal(bytes(1, 2), 1_000, 5_000, 2_500)
    expect(withStale.bytes.length).toBe(38 + 2)
    const opened = open(withStale.bytes, 5_000) as { staleMs: number; data: Uint8Array }
    expect(opened.staleMs).toBe(2_500)
    expect(Array.from(opened.data)).toEqual([1, 2])
    expect(open(seal(undefined, 1_000, 5_000, Infinity).bytes, 5_000)).toMatchObject({
      staleMs: Infinity,
      data: undefined,
    })
  })

  it('reads a stamped expiry, and the header of earlier releases (0xcb, no stamp) as before', () => {
    const sealed = seal(bytes(1, 2, 3), 1_000, 5_000, 2_000)
    sealed.bytes.writeDoubleBE(1_764_000_000_123, 24)
    expect(stampOf(sealed.bytes)).toBe(1_764_000_000_123)
    expect(open(sealed.bytes, 4_500)).toMatchObject({ freshMs: 500, keepMs: 4_500, staleMs: 2_000 })
    // The same record as an earlier release wrote it: no stamp, the stale window right after the id.
    const old = Buffer.concat([sealed.bytes.subarray(0, 24), sealed.bytes.subarray(32)])
    old[0] = 0xcb
    expect(stampOf(old)).toBeUndefined()
    const opened = open(old, 4_500) as { data: Uint8Array }
    expect(opened).toMatchObject({ freshMs: 500, keepMs: 4_500, staleMs: 2_000 })
    expect(Array.from(opened.data)).toEqual([1, 2, 3])
    expect(sealTombstone(ID, 1_000).bytes[0]).toBe(0xcb)
  })

  it('rejects bytes that are not an envelope with a reason', () => {
    const header = (flags: number, ...rest: number[]) => Buffer.from([0xcb, flags, ...Array(22).fill(0), ...rest])
    expect(open(Buffer.from('hello world'), 1_000)).toMatch(/first byte/)
    expect(open(Buffer.from([0xca, 0, 0, 0, 0, 0, 0, 0, 1]), 1_000)).toMatch(/first byte 0xca/)
    expect(open(Buffer.from([0xcb, 1]), 1_000)).toMatch(/shorter/)
    expect(open(Buffer.from([0xcc, 0, ...Array(22).fill(0)]), 1_000)).toMatch(/shorter than the 32-byte header/)
    // Every flag bit has a meaning since bit 7 (tagged): 0x80 alone is a tagged record, not an unknown flag.
    expect(open(header(0x80), 1_000)).toMatchObject({ tagged: true })
    expect(open(header(0x01, 42), 1_000)).toMatch(/negative/)
    expect(open(header(0x08, 1), 1_000)).toMatch(/30-byte header/)
    expect(open(header(0x11, 1), 1_000)).toMatch(/tombstone carries data/)
  })

  it('marks a value resurrected after a failed load (flag bit 5), so every reader reports it so', () => {
    const revived = sealWrite({ data: bytes(1), freshMs: 1_000, keepMs: 5_000, resurrected: true }, ID)
    expect(revived.bytes[1]! & 0x20).toBe(0x20)
    expect(open(revived.bytes, 5_000)).toMatchObject({ resurrected: true, freshMs: 1_000 })
    expect(open(seal(bytes(1), 1_000, 5_000).bytes, 5_000)).not.toHaveProperty('resurrected')
  })

  it('marks a tagged record (flag bit 7), alone or with the resurrected mark', () => {
    const tagged = sealWrite({ data: bytes(1), freshMs: 1_000, keepMs: 5_000, tagged: true }, ID)
    expect(tagged.bytes[1]! & 0b10000000).not.toBe(0)
    expect(open(tagged.bytes, 5_000)).toMatchObject({ tagged: true, freshMs: 1_000 })
    expect(open(tagged.bytes, 5_000)).not.toHaveProperty('resurrected')
    const both = sealWrite({ data: bytes(1), freshMs: 1_000, keepMs: 5_000, tagged: true, resurrected: true }, ID)
    expect(open(both.bytes, 5_000)).toMatchObject({ tagged: true, resurrected: true })
    expect(open(seal(bytes(1), 1_000, 5_000).bytes, 5_000)).not.toHaveProperty('tagged')
  })

  it('a tombstone holds only a version and opens as DELETED', () => {
    const tombstone = sealTombstone(ID, 60_000)
    expect(tombstone.px).toBe(60_000)
    expect(tombstone.bytes.length).toBe(24)
    expect(tombstone.bytes.subarray(8, 24).equals(ID)).toBe(true)
    expect(open(tombstone.bytes, 30_000)).toBe(DELETED)
  })
})
