import { describe, expect, it } from 'vitest'
import { Generations } from '../src/generations.js'

describe('Generations (what a store remembers of each namespace)', () => {
  // Found by the faults suite's soak: caches of ever new namespaces grew the heap ~160-240 B per namespace.
  it('remembers at most maxNamespaces, the least recently learnt forgotten first', () => {
    const generations = new Generations(0, () => 0, 100)
    for (let i = 0; i < 10_000; i++) generations.learn(`ns-${i}`, String(i + 1))
    expect(generations.size).toBe(100)
    expect(generations.current('ns-9999')).toBe('10000')
    // A forgotten namespace is guessed again (its next call checks the guess and retries).
    expect(generations.current('ns-0')).toBe('0')
  })

  it('learning a namespace again makes it the most recent, so a hot one outlives the churn', () => {
    const generations = new Generations(0, () => 0, 3)
    generations.learn('hot', '7')
    generations.learn('a', '1')
    generations.learn('b', '1')
    generations.learn('hot', '8')
    generations.learn('c', '1')
    expect(generations.current('hot')).toBe('8')
    expect(generations.current('a')).toBe('0')
  })

  it('trusts a checked generation for trustMs only', () => {
    let now = 0
    const generations = new Generations(300, () => now)
    generations.learn('n', '5')
    expect(generations.trusted('n')).toBe(true)
    now = 300
    expect(generations.trusted('n')).toBe(false)
    expect(new Generations(0, () => now).trusted('n')).toBe(false)
  })
})
