import { describe, expect, it } from 'vitest'
import { resolveOptions } from '../src/options.js'

// No Redis needed: the options are checked before any connection is made.
describe('RedisStore options', () => {
  it('refuse a misspelled name, listing the valid ones', () => {
    expect(() => resolveOptions({ url: 'redis://127.0.0.1', commandTimeout: 50 } as never)).toThrow(
      /options\.commandTimeout is not an option; valid options: client, url, redis, prefix, commandTimeoutMs/,
    )
  })

  it('still accept every documented name', () => {
    expect(resolveOptions({ url: 'redis://127.0.0.1', prefix: 'p:', commandTimeoutMs: 50 }).commandTimeoutMs).toBe(50)
  })

  it('take every duration as ms or a string, and refuse anything else naming the option', () => {
    const url = 'redis://127.0.0.1'
    const resolved = resolveOptions({
      url,
      commandTimeoutMs: '250ms',
      breakerOpenMs: '2s',
      fenceMs: '1m',
      generationTrustMs: '0s',
      minRecheckMs: '10ms',
      maxRecheckMs: '1s',
    })
    expect(resolved).toMatchObject({
      commandTimeoutMs: 250,
      breakerOpenMs: 2_000,
      fenceMs: 60_000,
      generationTrustMs: 0,
      minRecheckMs: 10,
      maxRecheckMs: 1_000,
    })
    for (const name of ['commandTimeoutMs', 'breakerOpenMs', 'fenceMs', 'generationTrustMs', 'minRecheckMs']) {
      for (const bad of ['5 minutes', '1.5.3s', -1, Number.NaN, Infinity]) {
        expect(() => resolveOptions({ url, [name]: bad })).toThrow(new RegExp(`^options\\.${name} must be`))
      }
    }
    expect(() => resolveOptions({ url, fenceMs: '0ms' })).toThrow(/options\.fenceMs must be > 0/)
    expect(() => resolveOptions({ url, minRecheckMs: '2s', maxRecheckMs: '1s' })).toThrow(/maxRecheckMs must be >=/)
  })
})
