import { Packr, unpack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage, type InvalidationMessage, isHeartbeat, WIRE_VERSION } from '../src/message.js'

const message: InvalidationMessage = {
  v: WIRE_VERSION,
  node: 'node-a',
  ns: 'users',
  seq: 7,
  ops: [
    { kind: 'set', keys: ['u:1', 'u:2'] },
    { kind: 'delete', keys: ['u:3'] },
  ],
}

describe('message', () => {
  it('round-trips through msgpack', () => {
    expect(decodeMessage(encodeMessage(message))).toEqual(message)
  })

  it('round-trips the mark of a message the store published with its write', () => {
    expect(decodeMessage(encodeMessage({ ...message, store: true }))).toEqual({ ...message, store: true })
    expect(() => decodeMessage(new Packr({ useRecords: false }).pack({ ...message, store: 1 }))).toThrow(
      /message.store/,
    )
  })

  it('is a plain msgpack map any decoder reads', () => {
    expect(unpack(encodeMessage(message))).toEqual(message)
  })

  it('marks a message without ops as a heartbeat', () => {
    expect(isHeartbeat({ ...message, ops: [] })).toBe(true)
    expect(isHeartbeat(message)).toBe(false)
  })

  it.each([
    ['a newer wire version', { ...message, v: 2 }, /wire version 2/],
    ['an empty node id', { ...message, node: '' }, /message.node/],
    ['a namespace that is not a string', { ...message, ns: 3 }, /message.ns/],
    ['a negative seq', { ...message, seq: -1 }, /message.seq/],
    ['an unknown kind', { ...message, ops: [{ kind: 'upsert', keys: [] }] }, /message.ops/],
    ['a key that is not a string', { ...message, ops: [{ kind: 'set', keys: [1] }] }, /message.ops/],
    ['a list instead of a map', [1, 2], /not a map/],
  ])('rejects %s', (_, value, error) => {
    expect(() => decodeMessage(new Packr({ useRecords: false }).pack(value))).toThrow(error)
  })

  it('rejects bytes that are not msgpack', () => {
    expect(() => decodeMessage(Uint8Array.of(0xc1))).toThrow(TypeError)
  })
})
