import { parseDuration as parseCoreDuration } from '@tiercache/core'

/**
 * A duration as the command line or the config file writes it, in
 * milliseconds: what `@tiercache/core`'s `parseDuration` takes (`250ms`, `60s`,
 * `5m`, `1h`, `1d`, a number of ms), and a bare number written as text
 * (`--ttl 1500`), which a command line cannot tell from a number.
 *
 * @example parseDuration('5m', '--ttl') // 300_000
 */
export function parseDuration(text: string | number, name: string): number {
  const value = typeof text === 'string' && /^\d+(?:\.\d+)?$/.test(text.trim()) ? Number(text) : text
  return parseCoreDuration(typeof value === 'string' ? value.trim() : value, name)
}
