import { describe, expect, it } from 'vitest'
import { CircuitBreaker, type CircuitState } from '../src/circuit-breaker.js'

function breaker() {
  let now = 0
  const changes: CircuitState[] = []
  const b = new CircuitBreaker({ failureThreshold: 3, openMs: 1_000, onChange: (s) => changes.push(s), now: () => now })
  return { b, changes, advance: (ms: number) => (now += ms) }
}

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive failures and refuses calls', () => {
    const { b, changes } = breaker()
    for (let i = 0; i < 2; i++) b.failed(b.allow()!)
    expect(b.state).toBe('closed')
    b.succeeded(b.allow()!) // a success resets the count
    for (let i = 0; i < 3; i++) b.failed(b.allow()!)
    expect(b.state).toBe('open')
    expect(b.allow()).toBeUndefined()
    expect(changes).toEqual(['open'])
  })

  it('lets one probe through after openMs; its success closes the circuit', () => {
    const { b, changes, advance } = breaker()
    for (let i = 0; i < 3; i++) b.failed(b.allow()!)
    advance(999)
    expect(b.allow()).toBeUndefined()
    advance(1)
    const probe = b.allow()
    expect(probe).toBe('probe')
    expect(b.state).toBe('half-open')
    expect(b.allow()).toBeUndefined() // only one probe at a time
    b.succeeded(probe!)
    expect(b.state).toBe('closed')
    expect(b.allow()).toBe('call')
    expect(changes).toEqual(['open', 'half-open', 'closed'])
  })

  it('re-opens for another openMs when the probe fails', () => {
    const { b, advance } = breaker()
    for (let i = 0; i < 3; i++) b.failed(b.allow()!)
    advance(1_000)
    b.failed(b.allow()!)
    expect(b.state).toBe('open')
    advance(500)
    expect(b.allow()).toBeUndefined()
    advance(500)
    expect(b.allow()).toBe('probe')
  })

  it('a late failure of an older call does not free the probe slot', () => {
    const { b, advance } = breaker()
    const old = b.allow()!
    for (let i = 0; i < 3; i++) b.failed(b.allow()!)
    advance(1_000)
    expect(b.allow()).toBe('probe')
    b.failed(old)
    expect(b.allow()).toBeUndefined()
  })
})
