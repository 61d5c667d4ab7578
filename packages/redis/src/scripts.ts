import type { Cluster, Redis } from 'ioredis'

/**
 * Every Lua script RedisStore runs, registered on the client with
 * `defineCommand` (ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT,
 * per node on a Cluster). All take a variable number of keys.
 *
 * The record scripts start with an optional generation check: when ARGV[1] is
 * not empty, KEYS[1] is the namespace's generation key and ARGV[1] the
 * generation the caller built the other keys with. If Redis holds another
 * generation the script does nothing and returns it as a plain string, and the
 * caller retries with it. This is how a standalone reader learns of a purge in
 * the same round trip as its read. On a Cluster the generation key lives in
 * another slot, so ARGV[1] is empty and the check runs as a parallel GET.
 */

const CHECK_GENERATION = `
local first = 1
if ARGV[1] ~= '' then
  local current = redis.call('GET', KEYS[1]) or '0'
  if current ~= ARGV[1] then return current end
  first = 2
end`

/**
 * KEYS: [generation] value... → flat array, per key: stored bytes (or nil) and
 * PTTL, read together so freshness is judged by Redis's clock at the moment of
 * the read. A key of another type reads as an empty string, which the envelope
 * rejects as malformed.
 */
const READ = `${CHECK_GENERATION}
local out = {}
for i = first, #KEYS do
  local value = redis.pcall('GET', KEYS[i])
  if type(value) == 'table' then value = '' end
  if value then
    out[#out + 1] = value
    out[#out + 1] = redis.call('PTTL', KEYS[i])
  else
    out[#out + 1] = false
    out[#out + 1] = -2
  end
end
return out`

/** KEYS: [generation] value...; ARGV: [generation] then per key bytes, PX → 'OK'. */
const WRITE = `${CHECK_GENERATION}
for i = first, #KEYS do
  local at = 2 + (i - first) * 2
  redis.call('SET', KEYS[i], ARGV[at], 'PX', ARGV[at + 1])
end
return 'OK'`

/** KEYS: [generation] value... → 'OK'. */
const REMOVE = `${CHECK_GENERATION}
for i = first, #KEYS do redis.call('DEL', KEYS[i]) end
return 'OK'`

/** KEYS: lock; ARGV: token, channel → 1 when released. Announces the release so waiters wake. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], KEYS[1])
  return 1
end
return 0`

/** KEYS: lock; ARGV: token, lease ms → 1 when extended. */
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`

const SCRIPTS = {
  tiercacheRead: READ,
  tiercacheWrite: WRITE,
  tiercacheRemove: REMOVE,
  tiercacheRelease: RELEASE,
  tiercacheExtend: EXTEND,
} as const

type Arg = string | Buffer | number

/** The reply of a record script when the generation check failed: the current generation. */
export type GenerationMismatch = string | Buffer

/** The client with the scripts registered (ioredis adds one method, plus a `…Buffer` twin, per script). */
export interface ScriptedClient {
  tiercacheReadBuffer(numKeys: number, ...args: Arg[]): Promise<(Buffer | number | null)[] | GenerationMismatch>
  tiercacheWrite(numKeys: number, ...args: Arg[]): Promise<string>
  tiercacheRemove(numKeys: number, ...args: Arg[]): Promise<string>
  tiercacheRelease(numKeys: number, ...args: Arg[]): Promise<number>
  tiercacheExtend(numKeys: number, ...args: Arg[]): Promise<number>
}

/** A pipeline with the scripts registered. */
export interface ScriptedPipeline {
  tiercacheReadBuffer(numKeys: number, ...args: Arg[]): ScriptedPipeline
  tiercacheWrite(numKeys: number, ...args: Arg[]): ScriptedPipeline
  tiercacheRemove(numKeys: number, ...args: Arg[]): ScriptedPipeline
  exec(): Promise<[Error | null, unknown][] | null>
}

/**
 * Register the scripts on `client` (idempotent: a second store on the same
 * client redefines them with the same source) and return it typed.
 */
export function registerScripts(client: Redis | Cluster): ScriptedClient {
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    client.defineCommand(name, { lua })
  }
  return client as unknown as ScriptedClient
}
