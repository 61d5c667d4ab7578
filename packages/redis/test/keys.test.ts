import calculateSlot from 'cluster-key-slot'
import { describe, expect, it } from 'vitest'
import { KeySpace } from '../src/keys.js'

const keys = new KeySpace('p:')

describe('KeySpace', () => {
  it('keeps plain keys readable', () => {
    expect(keys.value('users', 'user:42', '0')).toBe('p:{users:user:42}:0')
    expect(keys.lock('users', 'user:42')).toBe('p:{users:user:42}:lock')
    expect(keys.generation('users')).toBe('p:{users}:gen')
  })

  it('puts a value key and its lock in one Cluster slot, and spreads keys over slots', () => {
    for (const key of ['a', 'user:1', '{x}', 'x'.repeat(500)]) {
      expect(calculateSlot(keys.value('ns', key, '7'))).toBe(calculateSlot(keys.lock('ns', key)))
    }
    const slots = new Set(Array.from({ length: 100 }, (_, i) => calculateSlot(keys.value('ns', `k${i}`, '0'))))
    expect(slots.size).toBeGreaterThan(90)
  })

  it('gives distinct keys to every (namespace, key) pair, whatever they contain', () => {
    const names = ['a', 'a:b', 'b', 'a:b:', ':', '{', '}', '}:x', '#', '#a', 'a b', '', 'ключ', 'x'.repeat(200)]
    const seen = new Map<string, string>()
    for (const namespace of names.filter(Boolean)) {
      for (const key of names.filter(Boolean)) {
        const value = keys.value(namespace, key, '0')
        const pair = JSON.stringify([namespace, key])
        expect(seen.get(value) ?? pair).toBe(pair)
        seen.set(value, pair)
        // One hash tag, exactly: the Cluster slot is computed from what we intend.
        expect(value.split('{').length).toBe(2)
        expect(value.split('}').length).toBe(2)
      }
    }
  })

  it('bounds the length of long keys by hashing them', () => {
    expect(keys.value('ns', 'x'.repeat(100_000), '0').length).toBeLessThan(80)
  })

  it('throws TypeError naming the argument for an empty or non-string name', () => {
    expect(() => keys.value('', 'k', '0')).toThrow(/namespace/)
    expect(() => keys.lock('ns', '')).toThrow(TypeError)
    expect(() => keys.lock('ns', 5 as unknown as string)).toThrow(/key must be a non-empty string/)
  })

  it('rejects a lone surrogate with a TypeError naming the argument: it would collide with U+FFFD in Redis', () => {
    const emoji = '😀'
    const high = emoji[0]!
    const low = emoji[1]!
    // What UTF-8 makes of them: the same bytes, so two keys would name one record.
    expect(Buffer.from(`a${high}`).equals(Buffer.from(`a${low}`))).toBe(true)
    expect(() => keys.value('ns', `a${high}`, '0')).toThrow(/key must be well-formed UTF-16/)
    expect(() => keys.value('ns', `${low}b`, '0')).toThrow(TypeError)
    expect(() => keys.lock(`n${high}s`, 'k')).toThrow(/namespace must be well-formed UTF-16/)
    expect(() => keys.generation(`n${low}`)).toThrow(/namespace/)
    // Whole pairs are fine.
    expect(keys.value('ns', `a${emoji}`, '0')).toContain('#')
  })

  it('keeps exactly the safe characters readable (the table that replaced the regular expressions)', () => {
    const safeInBoth = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/@=+'
    for (let code = 0; code < 256; code++) {
      const c = String.fromCharCode(code)
      const inKey = safeInBoth.includes(c) || ':|,;'.includes(c)
      expect(keys.value('ns', `k${c}`, '0') === `p:{ns:k${c}}:0`, `key char ${code}`).toBe(inKey)
      expect(keys.generation(`n${c}`) === `p:{n${c}}:gen`, `namespace char ${code}`).toBe(safeInBoth.includes(c))
    }
  })

  it("builds each namespace's own stem when calls alternate between namespaces", () => {
    const space = new KeySpace('q:')
    expect(space.value('a', 'k', '0')).toBe('q:{a:k}:0')
    expect(space.value('b:c', 'k', '0')).toMatch(/^q:\{#[\w-]+:k\}:0$/)
    expect(space.value('a', 'k', '0')).toBe('q:{a:k}:0')
    expect(() => space.value('', 'k', '0')).toThrow(/namespace/)
    expect(space.lock('a', 'k')).toBe('q:{a:k}:lock')
  })
})
