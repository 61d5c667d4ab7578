import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { HttpCachePolicyName } from '@tiercache/http'
import { parseDuration } from './duration.js'
import { ConfigError } from './errors.js'

/** What one `tiercache-proxy` process runs with. Durations are milliseconds. */
export interface ProxyConfig {
  /** The origin every request goes to, e.g. `http://127.0.0.1:9999`. */
  readonly origin: URL
  readonly port: number
  /** @default '127.0.0.1' */
  readonly host: string
  /** A `redis://` url: responses in Redis and invalidations over its pub/sub, so several proxies act as one cache. */
  readonly redis: string | undefined
  /** How long a response is fresh. @default 60_000 */
  readonly ttl: number
  /** How long after expiry a response is served at once while one refresh runs. @default 0 */
  readonly stale: number
  /** How long after expiry a response is kept for when the origin fails. @default the stale window */
  readonly staleIfError: number
  /**
   * Which rules decide what is stored and for how long (the http package's `policy`): `nginx`, the
   * TTLs as `proxy_cache_valid` would; `rfc9111`, the origin's headers as a shared cache by RFC 9111.
   * @default 'nginx'
   */
  readonly policy: HttpCachePolicyName
  /** Bearer token the purge endpoint requires; without one the endpoint answers 403 to everybody. */
  readonly purgeToken: string | undefined
  /** Path prefix of the health and purge endpoints. @default '/_tiercache' */
  readonly adminPath: string
  /** Where the access log goes: a file path, `-` for stdout, `off`. @default '-' */
  readonly accessLog: string
  /** Most time SIGTERM waits for requests in flight before it cuts them. @default 10_000 */
  readonly shutdownTimeout: number
  /** Cache namespace (one per origin when several proxies share a Redis). @default 'tiercache-proxy' */
  readonly name: string
  /** Connections kept open to the origin. @default 64 */
  readonly originConnections: number
}

/** The command line help, printed with `--help` and after a usage error. */
export const USAGE = `Usage: tiercache-proxy --origin <url> --port <n> [options]

  --origin <url>        origin to cache, e.g. http://127.0.0.1:9999 (required)
  --port <n>            port to listen on (required)
  --host <addr>         address to listen on (default 127.0.0.1)
  --redis <url>         share the cache through Redis, e.g. redis://127.0.0.1:6379
                        (responses in Redis, invalidations over pub/sub: one cluster)
  --ttl <duration>      how long a response is fresh (default 60s); durations: 250ms, 30s, 5m,
                        1h, 1d, or a number of ms
  --stale <duration>    serve stale this long after expiry while one refresh runs (default 0)
  --stale-if-error <d>  serve stale this long after expiry while the origin fails (default: --stale)
  --policy <name>       nginx (default): the TTLs decide, as proxy_cache_valid;
                        rfc9111: the origin's Cache-Control/Expires decide, as RFC 9111 says
  --config <file>       JSON file with any of these settings (camelCase keys, plus purgeToken,
                        adminPath, accessLog, shutdownTimeout, name, originConnections);
                        flags win over the file
  --access-log <path>   access log file, '-' for stdout, 'off' (default -)
  --help                print this help

Durations: 500ms, 60s, 5m, 1h (a bare number is milliseconds).
Endpoints: GET <adminPath>/health, POST <adminPath>/purge?url=<url> or ?tag=<tag>
           with 'Authorization: Bearer <purgeToken>' (adminPath defaults to /_tiercache).`

const FLAGS = {
  origin: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  redis: { type: 'string' },
  ttl: { type: 'string' },
  stale: { type: 'string' },
  'stale-if-error': { type: 'string' },
  policy: { type: 'string' },
  config: { type: 'string' },
  'access-log': { type: 'string' },
  help: { type: 'boolean' },
} as const

/** Keys a config file may hold, with the flag (if any) that overrides each. */
const FILE_KEYS = new Set([
  'origin',
  'port',
  'host',
  'redis',
  'ttl',
  'stale',
  'staleIfError',
  'policy',
  'purgeToken',
  'adminPath',
  'accessLog',
  'shutdownTimeout',
  'name',
  'originConnections',
])

/** `--help` was asked for: print `USAGE`, exit 0. */
export const HELP = Symbol('help')

/**
 * The config from command line arguments (and the `--config` file they name).
 * Throws a `ConfigError` saying what is wrong: an unknown flag, a bad value, a missing `--origin`.
 *
 * @example parseConfig(['--origin', 'http://127.0.0.1:9999', '--port', '8080', '--ttl', '60s'])
 */
export function parseConfig(args: readonly string[]): ProxyConfig | typeof HELP {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args: [...args], options: FLAGS, strict: true, allowPositionals: false }).values
  } catch (cause) {
    throw new ConfigError((cause as Error).message, { cause })
  }
  if (values.help === true) return HELP
  const file = typeof values.config === 'string' ? readConfigFile(values.config) : {}
  const flag = (name: keyof typeof FLAGS): string | undefined => values[name] as string | undefined
  const pick = (key: string, flagName?: keyof typeof FLAGS): unknown =>
    flag(flagName ?? (key as keyof typeof FLAGS)) ?? file[key]

  const origin = pick('origin')
  if (origin === undefined) throw new ConfigError('--origin is required')
  const url = parseUrl(String(origin), '--origin', ['http:', 'https:'])
  const redis = pick('redis')
  if (redis !== undefined) parseUrl(String(redis), '--redis', ['redis:', 'rediss:'])
  const policy = pick('policy')
  if (policy !== undefined && policy !== 'nginx' && policy !== 'rfc9111') {
    throw new ConfigError(`--policy must be nginx or rfc9111, got ${String(policy)}`)
  }
  const stale = duration(pick('stale'), '--stale', 0)
  const adminPath = String(pick('adminPath') ?? '/_tiercache')
  if (!/^\/[\w./-]*[^/]$/.test(adminPath))
    throw new ConfigError(`adminPath must look like /_tiercache, got ${adminPath}`)
  return {
    origin: url,
    port: integer(pick('port'), '--port', { min: 0, max: 65_535 }),
    host: String(pick('host') ?? '127.0.0.1'),
    redis: redis === undefined ? undefined : String(redis),
    ttl: duration(pick('ttl'), '--ttl', 60_000),
    stale,
    staleIfError: duration(pick('staleIfError', 'stale-if-error'), '--stale-if-error', stale),
    policy: policy ?? 'nginx',
    purgeToken: optionalString(file.purgeToken, 'purgeToken'),
    adminPath,
    accessLog: String(pick('accessLog', 'access-log') ?? '-'),
    shutdownTimeout: duration(file.shutdownTimeout, 'shutdownTimeout', 10_000),
    name: String(file.name ?? 'tiercache-proxy'),
    originConnections: integer(file.originConnections ?? 64, 'originConnections', { min: 1, max: 10_000 }),
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (cause) {
    throw new ConfigError(`--config ${path}: ${(cause as Error).message}`, { cause })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`--config ${path}: must hold a JSON object`)
  }
  const unknown = Object.keys(parsed).filter((key) => !FILE_KEYS.has(key))
  if (unknown.length > 0) throw new ConfigError(`--config ${path}: unknown setting(s) ${unknown.join(', ')}`)
  return parsed as Record<string, unknown>
}

function parseUrl(text: string, name: string, protocols: readonly string[]): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch (cause) {
    throw new ConfigError(`${name} must be a URL, got ${JSON.stringify(text)}`, { cause })
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(`${name} must be a ${protocols.join(' or ')} URL, got ${JSON.stringify(text)}`)
  }
  return url
}

function duration(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  // A config file may hold anything JSON can: only text and numbers are durations ([5] is not '5').
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new ConfigError(`${name} must be a duration such as '250ms', '30s', '5m', '1h', '1d', or a number of ms`, {
      cause: new TypeError(`${name} must be a duration, got ${Array.isArray(value) ? 'an array' : typeof value}`),
    })
  }
  try {
    return parseDuration(value, name)
  } catch (cause) {
    throw new ConfigError((cause as Error).message, { cause })
  }
}

function integer(value: unknown, name: string, range: { min: number; max: number }): number {
  if (value === undefined) throw new ConfigError(`${name} is required`)
  const n = Number(value)
  if (!Number.isInteger(n) || n < range.min || n > range.max) {
    throw new ConfigError(`${name} must be an integer from ${range.min} to ${range.max}, got ${String(value)}`)
  }
  return n
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0) throw new ConfigError(`${name} must be a non-empty string`)
  return value
}
