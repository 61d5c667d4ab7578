const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

/**
 * A duration as the command line writes it (`250ms`, `60s`, `5m`, `1h`, or a
 * bare number of milliseconds) in milliseconds.
 *
 * @example parseDuration('5m') // 300_000
 */
export function parseDuration(text: string, name: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null)
    throw new TypeError(`${name} must be a duration such as 500ms, 60s, 5m or 1h, got ${JSON.stringify(text)}`)
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!)
}
