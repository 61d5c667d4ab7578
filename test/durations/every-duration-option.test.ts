/**
 * Every duration option of every package, in one table: each takes a number of
 * ms and the strings '250ms', '30s', '5m', '1h', '1d', and answers anything
 * else with a TypeError naming the option. The table is checked against the
 * sources: an option typed `Duration` (or named like one) in any package's
 * options that the table does not hold fails the first test, so a new option
 * cannot skip the rule unseen.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Duration, MemoryStore, TierCache } from '@tiercache/core'
import { HttpCache } from '@tiercache/http'
import { BroadcastChannelIpc, RedisPubSubIpc } from '@tiercache/ipc'
import { parseConfig } from '@tiercache/proxy'
import { RedisStore } from '@tiercache/redis'
import { afterAll, describe, expect, it } from 'vitest'
import { Redis } from '../../packages/ipc/test/redis-server.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const GOOD: readonly [Duration, number][] = [
  [1_500, 1_500],
  ['250ms', 250],
  ['30s', 30_000],
  ['5m', 300_000],
  ['1h', 3_600_000],
  ['1d', 86_400_000],
]
/** Not durations anywhere. (A bare '10' is one on the proxy's command line, where text is all there is.) */
const BAD: readonly unknown[] = ['5 minutes', '5M', '-1s', '1w', '', -1, Number.NaN, Infinity, true, {}, [5]]

/** One duration option: how to give it a value, and the name its TypeError must carry. */
interface Row {
  readonly pkg: string
  readonly option: string
  /** The name in the message, e.g. `options.ttl` or `--ttl`. */
  readonly named: string
  /** Builds (and disposes of) whatever takes the option; throws what the option check throws. */
  readonly give: (value: unknown) => unknown | Promise<unknown>
  /** What is not a duration here, when not {@link BAD}. */
  readonly bad?: readonly unknown[]
}

const clients: Redis[] = []
const lazyClient = () => {
  const client = new Redis({ lazyConnect: true })
  clients.push(client)
  return client
}
afterAll(() => {
  for (const client of clients) client.disconnect()
})

const cacheOption = (option: string, extra: object = {}): Row => ({
  pkg: 'core',
  option,
  named: `options.${option}`,
  give: (value) => new TierCache({ [option]: value, ...extra }).close(),
})
const getOption = (option: string): Row => ({
  pkg: 'core',
  option: `get(key, { ${option} })`,
  named: `options.${option}`,
  give: () => {},
})
const CORE_CACHE = [
  'ttl',
  'negTtl',
  'staleTtl',
  'resurrectTtl',
  'lockWait',
  'lockLease',
  'softTimeout',
  'hardTimeout',
  'storeTimeout',
  'refreshRetryDelay',
]
const PER_CALL_GET = ['ttl', 'negTtl', 'staleTtl', 'resurrectTtl', 'softTimeout', 'hardTimeout']
const PER_CALL_SET = ['ttl', 'negTtl', 'staleTtl', 'resurrectTtl']
const CTX = ['ttl', 'negTtl', 'staleTtl', 'resurrectTtl']
const REDIS = ['commandTimeoutMs', 'breakerOpenMs', 'fenceMs', 'generationTrustMs', 'minRecheckMs', 'maxRecheckMs']
const HTTP = [
  'ttl',
  'staleTtl',
  'staleIfError',
  'resurrectTtl',
  'lockTimeout',
  'originTimeout',
  'revalidateTtl',
  'passTtl',
  'varyTtl',
]
const PROXY_FLAGS = ['ttl', 'stale', 'stale-if-error']
const PROXY_FILE = ['ttl', 'stale', 'staleIfError', 'shutdownTimeout']

const ROWS: Row[] = [
  ...CORE_CACHE.map((option) => cacheOption(option)),
  {
    pkg: 'core',
    option: 'refreshBackoff.initial',
    named: 'options.refreshBackoff.initial',
    give: (value) => new TierCache({ refreshBackoff: { initial: value as Duration, max: '2d' } }).close(),
  },
  {
    pkg: 'core',
    option: 'refreshBackoff.max',
    named: 'options.refreshBackoff.max',
    give: (value) => new TierCache({ refreshBackoff: { initial: 0, max: value as Duration } }).close(),
  },
  ...PER_CALL_GET.map((option) => ({
    ...getOption(option),
    give: (value: unknown) => new TierCache().get('k', { [option]: value }, () => 'v'),
  })),
  ...PER_CALL_SET.map((option) => ({
    ...getOption(option),
    option: `set(key, value, { ${option} })`,
    give: (value: unknown) => new TierCache().set('k', 'v', { [option]: value }),
  })),
  ...CTX.map((option) => ({
    pkg: 'core',
    option: `loader ctx.${option}`,
    named: `ctx.${option}`,
    give: (value: unknown) =>
      new TierCache().get('k', (_key, ctx) => {
        Object.assign(ctx, { [option]: value })
        return 'v'
      }),
  })),
  {
    pkg: 'core',
    option: 'MemoryStore fenceMs',
    named: 'options.fenceMs',
    give: (value) => new MemoryStore({ fenceMs: value as Duration }),
  },
  ...REDIS.map((option) => ({
    pkg: 'redis',
    option,
    named: `options.${option}`,
    give: async (value: unknown) => {
      // The other bound of the recheck pair is set so that any good value fits.
      const bounds =
        option === 'minRecheckMs' ? { maxRecheckMs: '2d' } : option === 'maxRecheckMs' ? { minRecheckMs: 1 } : {}
      await new RedisStore({ client: lazyClient(), ...bounds, [option]: value }).close()
    },
  })),
  ...['coalesceMs', 'maxStalenessMs', 'heartbeatMs'].map((option) => ({
    pkg: 'ipc',
    option: `RedisPubSubIpc ${option}`,
    named: `options.${option}`,
    give: async (value: unknown) => {
      const bus = new RedisPubSubIpc({
        publisher: lazyClient(),
        subscriber: lazyClient(),
        channel: 'durations',
        [option]: value,
      })
      await bus.close()
    },
  })),
  {
    pkg: 'ipc',
    option: 'BroadcastChannelIpc coalesceMs',
    named: 'options.coalesceMs',
    give: (value) => new BroadcastChannelIpc({ channel: 'durations', coalesceMs: value as Duration }).close(),
  },
  ...HTTP.map((option) => ({
    pkg: 'http',
    option,
    named: `options.${option}`,
    give: (value: unknown) => new HttpCache({ cache: new TierCache(), [option]: value }),
  })),
  ...PROXY_FLAGS.map((flag) => ({
    pkg: 'proxy',
    option: `--${flag}`,
    named: `--${flag}`,
    give: (value: unknown) =>
      parseConfig(['--origin', 'http://127.0.0.1:9', '--port', '0', `--${flag}=${String(value)}`]),
    // A command line holds text only.
    bad: ['5 minutes', '5M', '-1s', '1w', '', '-1', 'NaN', 'Infinity', 'true'],
  })),
  ...PROXY_FILE.map((key) => ({
    pkg: 'proxy',
    option: `--config file ${key}`,
    named: key === 'shutdownTimeout' ? key : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
    give: (value: unknown) => {
      const path = join(mkdtempSync(join(tmpdir(), 'tc-durations-')), 'proxy.json')
      writeFileSync(path, JSON.stringify({ origin: 'http://127.0.0.1:9', port: 0, [key]: value }))
      return parseConfig(['--config', path])
    },
    // NaN and Infinity are not JSON; a file says null instead.
    bad: ['5 minutes', '5M', '-1s', '1w', '', -1, null, true, {}, [5]],
  })),
]

/** Source files of every package, tests and test helpers left out. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'testing' ? [] : sources(path)
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : []
  })
}

describe('every duration option of every package takes ms and duration strings, and names itself when given anything else', () => {
  it('the table holds every option the sources type as a Duration or name like one', () => {
    const covered = new Set([
      ...CORE_CACHE,
      'initial',
      'max',
      'fenceMs',
      ...REDIS,
      ...HTTP,
      'coalesceMs',
      'maxStalenessMs',
      'heartbeatMs',
      ...PROXY_FILE,
    ])
    const found: string[] = []
    for (const pkg of readdirSync(join(root, 'packages'))) {
      for (const file of sources(join(root, 'packages', pkg, 'src'))) {
        const text = readFileSync(file, 'utf8')
        // Option fields (`name?: Duration`), and optional number fields named like a span of time.
        for (const match of text.matchAll(/^\s+(?:readonly )?(\w+)\?: (Duration|number)\b/gm)) {
          const [, name, type] = match as unknown as [string, string, string]
          const timeLike = /(Ms|Ttl|Timeout|Delay|Wait|Lease)$|^ttl$/.test(name)
          if (type === 'Duration' || timeLike) found.push(`${pkg}: ${name}`)
        }
      }
      if (pkg === 'proxy') found.push(...PROXY_FILE.map((key) => `${pkg}: ${key}`))
    }
    // Fields named like an option that are a record's own times, not something a user gives.
    const notOptions = new Set(['staleMs', 'aheadMs', 'extraMs'])
    const missing = found.filter(
      (entry) => !notOptions.has(entry.split(': ')[1]!) && !covered.has(entry.split(': ')[1]!),
    )
    expect(missing).toEqual([])
    expect(found.length).toBeGreaterThan(30)
  })

  describe.each(ROWS.map((row) => [`${row.pkg} ${row.option}`, row] as const))('%s', (_label, row) => {
    it.each(GOOD)('accepts %j (%d ms)', async (value) => {
      await row.give(value)
    })

    it.each(
      (row.bad ?? BAD).map((value) => [
        typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? `[${value}]` : String(value),
        value,
      ]),
    )('rejects %s with a TypeError naming it', async (_shown, value) => {
      const thrown = await (async () => {
        try {
          await row.give(value)
        } catch (error) {
          return error
        }
        return undefined
      })()
      // The proxy's command line reports a ConfigError (exit status 2) caused by the same TypeError.
      const error = row.pkg === 'proxy' ? (thrown as Error | undefined)?.cause : thrown
      expect(error).toBeInstanceOf(TypeError)
      expect((error as TypeError).message).toContain(`${row.named} must be`)
      if (row.pkg === 'proxy') expect((thrown as Error).message).toContain(row.named)
    })
  })
})
