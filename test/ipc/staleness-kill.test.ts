import { describe, expect, it } from 'vitest'
import { measurePropagation } from './propagation.js'

const MAX_STALENESS_MS = 500
const KILL_AT_MS = 2000
/** The killed subscribers stay away three times longer than the staleness bound. */
const RETRY_MS = 1500

// Same three nodes as propagation.test.ts; 2 s into the run every pub/sub
// connection of the private Redis is killed (CLIENT KILL TYPE pubsub) and the
// subscribers come back only after 1.5 s, so for that time invalidations are
// lost and only the staleness bound protects the readers.
describe('pub/sub connection killed mid-run', () => {
  it('serves no version older than maxStaleness after an update, and resubscribes by itself', {
    timeout: 60_000,
  }, async () => {
    const figures = await measurePropagation({
      count: 600,
      intervalMs: 10,
      maxStalenessMs: MAX_STALENESS_MS,
      killAtMs: KILL_AT_MS,
      subscriberRetryMs: RETRY_MS,
    })
    console.log('kill run figures (ms):', JSON.stringify({ ...figures, delays: undefined }))
    for (const reader of figures.readers) {
      expect(reader.disconnected).toBeGreaterThanOrEqual(1)
      // The first reconnected is the start; the second is the recovery after the kill.
      expect(reader.reconnected).toBeGreaterThanOrEqual(2)
    }
    expect(figures.missing).toBe(0)
    // Messages were really lost (without the bound, readers would hold a
    // version for the 60 s TTL); the bound held, with slack for timers on a
    // busy machine.
    expect(figures.maxStaleness).toBeGreaterThan(MAX_STALENESS_MS / 4)
    expect(figures.maxStaleness).toBeLessThan(MAX_STALENESS_MS + 250)
    // Back on the bus: the last second of updates propagates as fast as before the kill.
    const tail = figures.delays.slice(-100).sort((a, b) => a - b)
    expect(tail[Math.ceil(tail.length * 0.99) - 1]).toBeLessThan(250)
  })
})
