import type { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { CircuitBreaker, type CircuitState } from '../src/circuit-breaker.js'
import { CircuitProbe } from '../src/circuit-probe.js'
import type { CommandGuard } from '../src/command-guard.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// Regression (CI, stop 17): a timer fires a fraction of a millisecond before `openMs` has passed
// by performance.now(); the probe saw "not due yet" and returned, and with no traffic the circuit
// stayed open for good. Here the breaker's clock falls 300 ms behind the timers to make that certain.
describe('CircuitProbe', () => {
  it('waits out the rest of openMs when its timer fires early, then probes and closes the circuit', async () => {
    let lag = 0
    const started = performance.now()
    const changes: CircuitState[] = []
    let probe: CircuitProbe | undefined
    const breaker = new CircuitBreaker({
      failureThreshold: 1,
      openMs: 50,
      onChange: (state) => {
        changes.push(state)
        if (state === 'open') probe?.opened()
      },
      now: () => performance.now() - started - lag,
    })
    let pings = 0
    // Only what the probe touches: a connected client and a guard that asks the breaker.
    const client = { status: 'ready', on() {}, off() {} } as unknown as Redis
    const guard = {
      run: async (_operation: string, _send: unknown) => {
        const permit = breaker.allow()
        if (permit === undefined) throw new Error('refused')
        pings++
        breaker.succeeded(permit)
      },
    } as unknown as CommandGuard
    probe = new CircuitProbe({ client, guard, breaker, openMs: 50 })

    breaker.failed(breaker.allow()!)
    expect(breaker.state).toBe('open')
    lag = 300
    await sleep(80) // the first timer (51 ms) has fired; by the breaker's clock the circuit is not due for 300 ms more
    expect(pings).toBe(0)
    lag = 0
    // The probe waited out what the breaker said was left, and goes then (without the fix: never).
    for (let i = 0; i < 300 && pings === 0; i++) await sleep(10)
    expect(pings).toBe(1)
    expect(breaker.state).toBe('closed')
    expect(changes).toEqual(['open', 'half-open', 'closed'])
    probe.stop()
  })
})
