import { describe, expect, it } from 'vitest'
import { jsonCodec, msgpackCodec } from '../src/index.js'

describe('msgpackCodec', () => {
  const codec = msgpackCodec()

  it('round-trips Date, Map, Set, BigInt, typed arrays and undefined fields', () => {
    const value = {
      at: new Date(1_700_000_000_000),
      nested: [{ m: new Map<unknown, unknown>([[1, { x: new Set(['a']) }]]) }],
      big: -(2n ** 80n),
      bytes: new Uint8Array([1, 2, 3]),
      missing: undefined,
    }
    const back = codec.decode(codec.encode(value)) as typeof value
    expect(back).toEqual(value)
    expect(back.nested[0]!.m).toBeInstanceOf(Map)
    expect('missing' in back).toBe(true)
  })

  it('writes values without a Map in the plain format, which decodes objects without compiling readers', () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ id: i, name: `row ${i}` }))
    expect(codec.encode({ rows })[0]).toBe(0)
    expect(codec.encode({ rows, index: new Map([[0, rows[0]]]) })[0]).toBe(1)
    expect(codec.decode(codec.encode({ rows }))).toEqual({ rows })
  })

  it('keeps a plain object and a Map apart', () => {
    const back = codec.decode(codec.encode({ o: { 1: 'a' }, m: new Map([['1', 'a']]) })) as Record<string, unknown>
    expect(back.o).toEqual({ 1: 'a' })
    expect(back.m).toBeInstanceOf(Map)
  })

  it('takes the records format when a value is nested too deep to search', () => {
    let deep: unknown = { leaf: true }
    for (let i = 0; i < 40; i++) deep = { deep }
    const data = codec.encode(deep)
    expect(data[0]).toBe(1)
    expect(codec.decode(data)).toEqual(deep)
  })

  it('refuses bytes it did not write, so the cache reads them as a miss', () => {
    expect(() => codec.decode(new Uint8Array([7, 1, 2]))).toThrow(TypeError)
  })
})

describe('jsonCodec', () => {
  it('round-trips JSON values', () => {
    const codec = jsonCodec()
    expect(codec.decode(codec.encode({ a: [1, 'x', null] }))).toEqual({ a: [1, 'x', null] })
  })
})
