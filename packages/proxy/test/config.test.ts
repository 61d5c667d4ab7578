import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseDuration as coreParseDuration } from '@tiercache/core'
import { describe, expect, it } from 'vitest'
import { ConfigError, HELP, parseConfig, parseDuration } from '../src/index.js'

describe('parseDuration', () => {
  it('reads ms, s, m, h and bare milliseconds', () => {
    expect(['250ms', '60s', '5m', '1h', '1500', '1.5s'].map((text) => parseDuration(text, 'd'))).toEqual([
      250, 60_000, 300_000, 3_600_000, 1_500, 1_500,
    ])
  })

  it("is core's parser (days too, numbers from a JSON config), plus bare milliseconds written as text", () => {
    expect(parseDuration('1d', '--ttl')).toBe(coreParseDuration('1d', '--ttl'))
    expect(parseDuration(2_500, 'shutdownTimeout')).toBe(2_500)
    expect(() => parseDuration('1.5.3s', '--ttl')).toThrow(/--ttl must be a duration/)
    expect(() => coreParseDuration('1500', '--ttl')).toThrow(TypeError)
  })

  it('rejects anything else with a TypeError naming the option', () => {
    expect(() => parseDuration('5 minutes', '--ttl')).toThrow(/--ttl must be a duration/)
    expect(() => parseDuration('-1s', '--ttl')).toThrow(TypeError)
  })
})

describe('parseConfig', () => {
  const base = ['--origin', 'http://127.0.0.1:9999', '--port', '8080']

  it('applies the defaults, and the durations given', () => {
    const config = parseConfig([...base, '--ttl', '2m', '--stale', '30s'])
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8080, ttl: 120_000, stale: 30_000, staleIfError: 30_000 })
    expect(config !== HELP && config.origin.href).toBe('http://127.0.0.1:9999/')
    expect(config).toMatchObject({ policy: 'nginx' })
    expect(parseConfig([...base, '--policy', 'rfc9111'])).toMatchObject({ policy: 'rfc9111' })
  })

  it('reads a config file; flags win over it', () => {
    const file = join(tmpdir(), `tiercache-proxy-config-${process.pid}.json`)
    writeFileSync(file, JSON.stringify({ ttl: '10s', purgeToken: 't', redis: 'redis://127.0.0.1:6379', port: 9000 }))
    expect(parseConfig([...base, '--config', file])).toMatchObject({
      ttl: 10_000,
      purgeToken: 't',
      redis: 'redis://127.0.0.1:6379',
      port: 8080,
    })
    writeFileSync(file, JSON.stringify({ tll: '10s' }))
    expect(() => parseConfig([...base, '--config', file])).toThrow(/unknown setting\(s\) tll/)
  })

  it('says what is wrong: a missing origin, a bad URL, an unknown flag, a bad port', () => {
    expect(() => parseConfig(['--port', '1'])).toThrow(/--origin is required/)
    expect(() => parseConfig(['--origin', 'ftp://x', '--port', '1'])).toThrow(/--origin must be a http: or https: URL/)
    expect(() => parseConfig([...base, '--nope'])).toThrow(ConfigError)
    expect(() => parseConfig(['--origin', 'http://x', '--port', '70000'])).toThrow(/--port must be an integer/)
    expect(() => parseConfig([...base, '--policy', 'rfc7234'])).toThrow(/--policy must be nginx or rfc9111/)
    expect(parseConfig(['--help'])).toBe(HELP)
  })
})
