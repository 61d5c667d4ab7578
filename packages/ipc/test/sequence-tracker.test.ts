import { describe, expect, it } from 'vitest'
import { SequenceTracker } from '../src/sequence-tracker.js'

describe('SequenceTracker', () => {
  it('accepts the first message of a sender whatever its number, then expects +1', () => {
    const tracker = new SequenceTracker()
    expect(tracker.observe('a', 'ns', 41, false)).toBe('next')
    expect(tracker.observe('a', 'ns', 42, false)).toBe('next')
    expect(tracker.observe('a', 'ns', 44, false)).toBe('gap')
    expect(tracker.observe('a', 'ns', 45, false)).toBe('next')
  })

  it('treats a duplicate or late message as old', () => {
    const tracker = new SequenceTracker()
    tracker.observe('a', 'ns', 5, false)
    expect(tracker.observe('a', 'ns', 5, false)).toBe('old')
    expect(tracker.observe('a', 'ns', 3, false)).toBe('old')
    expect(tracker.observe('a', 'ns', 6, false)).toBe('next')
  })

  it('expects a heartbeat to repeat the last number, and sees a lost last message in it', () => {
    const tracker = new SequenceTracker()
    tracker.observe('a', 'ns', 5, false)
    expect(tracker.observe('a', 'ns', 5, true)).toBe('next')
    expect(tracker.observe('a', 'ns', 6, true)).toBe('gap')
    expect(tracker.observe('a', 'ns', 5, true)).toBe('old')
  })

  it('counts per sender and per namespace', () => {
    const tracker = new SequenceTracker()
    tracker.observe('a', 'ns', 1, false)
    expect(tracker.observe('b', 'ns', 9, false)).toBe('next')
    expect(tracker.observe('a', 'other', 9, false)).toBe('next')
    expect(tracker.observe('a', 'ns', 2, false)).toBe('next')
  })

  it('starts over for a namespace it was told to forget', () => {
    const tracker = new SequenceTracker()
    tracker.observe('a', 'ns', 1, false)
    tracker.forget('ns')
    expect(tracker.observe('a', 'ns', 9, false)).toBe('next')
  })

  it('forgets the senders heard from longest ago past its bound', () => {
    const tracker = new SequenceTracker(2)
    tracker.observe('a', 'ns', 1, false)
    tracker.observe('b', 'ns', 1, false)
    tracker.observe('a', 'ns', 2, false)
    tracker.observe('c', 'ns', 1, false) // evicts b, heard from longest ago
    expect(tracker.observe('b', 'ns', 7, false)).toBe('next')
    expect(tracker.observe('c', 'ns', 3, false)).toBe('gap')
  })
})
