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
})
