import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

/**
 * Every Lua script RedisStore runs, registered on the client with
 * `defineCommand` (ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT,
 * per node on a Cluster). The record scripts take a variable number of keys.
 *
 * The record scripts start with an optional generation check: when ARGV[1] is
 * not empty, KEYS[1] is the namespace's generation key and ARGV[1] the
 * generation the caller built the other keys with. If Redis holds another
 * generation the script does nothing and returns it as a plain string, and the
 * caller retries with it (or, for a conditional write, reports it refused).
 * This is how a standalone reader learns of a purge in the same round trip as
 * its read. On a Cluster the generation key lives in another slot, so ARGV[1]
 * is empty and the check runs in parallel (the GENERATION script).
 *
 * Every script that changes something takes a deadline in Redis's clock (ms,
 * '' for none) and does nothing once `TIME` is past it, returning 'late': a
 * call the store gave up on cannot land after a newer one.
 */

const NEW_GENERATION = `
local function new_generation(after)
  local time = redis.call('TIME')
  local micros = tonumber(time[1]) * 1000000 + tonumber(time[2])
  local generation = string.format('%.0f', math.max(micros, after + 1))
  redis.call('SET', KEYS[1], generation)
  return generation
end`

/**
 * A missing generation key (a namespace never used, or its key evicted) gets
 * a new generation, Redis's time in µs, never '0' again: reading '0' after an
 * eviction would bring back what was written before, and counting again from
 * there would come back to generations already used.
 */
export const CHECK_GENERATION = `${NEW_GENERATION}
local first = 1
if ARGV[1] ~= '' then
  local current = redis.call('GET', KEYS[1]) or new_generation(0)
  if current ~= ARGV[1] then return current end
  first = 2
end`

export const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`

/**
 * Stamp a record of the 0xCC format (envelope.ts) with when its key expires,
 * in Redis's clock, right after the command that set its expiry: what
 * PEXPIRETIME says (Redis 7), exactly the instant Redis removes the key. On
 * a Redis without PEXPIRETIME: TIME (ms, floored) + PX - 1, never later than
 * that instant while the script started less than 1 ms before its TIME (a
 * Redis that times a script's commands from its start, as 7.2 does).
 */
const STAMP = `
local function stamp(key, bytes_head, px)
  if string.byte(bytes_head, 1) == 0xCC then
    local at = redis.pcall('PEXPIRETIME', key)
    if type(at) ~= 'number' or at < 0 then at = now - 1 + tonumber(px) end
    redis.call('SETRANGE', key, 24, struct.pack('>d', at))
  end
end`

const LATE = `
if ARGV[2] ~= '' and now > tonumber(ARGV[2]) then return 'late' end`

/**
 * A value key's version key, `<value key>:v`: the id of the last write whose
 * record expires before the fence window ends, kept `fenceMs` after that
 * write. A record that expired by its TTL leaves its version there, as a
 * delete leaves a tombstone, so a load that read before the write is still
 * refused. Same hash tag, same Cluster slot as the value key.
 */
export const VERSION_KEY = `
local function version_key(key)
  return key .. ':v'
end`

/**
 * The version id of a key from the first 24 bytes of its value (see
 * envelope.ts): bytes 9-24 of an envelope; when absent, what its version key
 * holds ('' when nothing); for anything else (hand-written bytes, another
 * type) a string no envelope id can equal.
 */
export const VERSION_OF = `${VERSION_KEY}
local function version_of(key)
  local head = redis.pcall('GETRANGE', key, 0, 23)
  if type(head) ~= 'string' then return '!' end
  if head == '' then return redis.call('GET', version_key(key)) or '' end
  local magic = string.byte(head, 1)
  if (magic == 0xCC or magic == 0xCB) and #head == 24 then return string.sub(head, 9, 24) end
  return '!' .. head
end`

/**
 * KEYS: [generation] value...; ARGV: [generation], max bytes →
 * flat array, per key: stored bytes (false when absent; the size, a number,
 * when over max bytes, so a huge value never crosses the wire), PTTL, version
 * id; then Redis's time in ms. A key of another type reads as an empty string,
 * which the envelope rejects as malformed.
 */
const READ = `${CHECK_GENERATION}${NOW}${VERSION_OF}
local max = tonumber(ARGV[2])
local out = {}
for i = first, #KEYS do
  local size = redis.pcall('STRLEN', KEYS[i])
  if type(size) ~= 'number' then
    out[#out + 1] = ''
    out[#out + 1] = redis.call('PTTL', KEYS[i])
    out[#out + 1] = '!'
  elseif size > max then
    out[#out + 1] = size
    out[#out + 1] = redis.call('PTTL', KEYS[i])
    out[#out + 1] = version_of(KEYS[i])
  else
    local value = redis.call('GET', KEYS[i])
    if value then
      out[#out + 1] = value
      out[#out + 1] = redis.call('PTTL', KEYS[i])
      out[#out + 1] = version_of(KEYS[i])
    else
      out[#out + 1] = false
      out[#out + 1] = -2
      out[#out + 1] = redis.call('GET', version_key(KEYS[i])) or ''
    end
  end
end
out[#out + 1] = now
return out`

/**
 * Publish the invalidation a write carries (ARGV[from]: '' for none,
 * 'PUBLISH' or 'SPUBLISH'; then channel, message) in the same atomic step as
 * the write: the message goes out exactly when the write lands, whatever
 * becomes of the writer. The caller never asks for SPUBLISH on a Cluster,
 * where a channel of another slot than the keys fails the script.
 *
 * Called right before the script's first write, never after it: a PUBLISH
 * Redis refuses (an ACL user without the channel, the default for a new user
 * of Redis 7) fails the script, and a script fails whole only before its first
 * write. Published after the write, the value or tombstone landed and the
 * caller was told the write was not applied (a ReplyError). Subscribers get
 * the message once the script has ended, so publishing first changes nothing
 * for them; a write Redis then refuses (OOM) costs a spurious invalidation.
 */
const ANNOUNCE = `
local function announce(from)
  if ARGV[from] ~= '' then redis.call(ARGV[from], ARGV[from + 1], ARGV[from + 2]) end
end`

/**
 * KEYS: [generation] value...; ARGV: [generation], deadline, fence ms,
 * publish command, channel, message (see ANNOUNCE; published when at least
 * one key was written), then per key: envelope bytes, PX, condition, read at. The condition is '' for an
 * unconditional write, else 'v' followed by the version id the writer read at
 * Redis time "read at"; such a write is applied only when the key still holds
 * that id and the read is younger than the fence window (a delete's tombstone
 * lives that long). → per key 1 (written) or the version id found (refused),
 * then Redis's time in ms; or 'late' (nothing written). A record kept less
 * than the fence window also writes its version key (see VERSION_KEY).
 */
const WRITE = `${CHECK_GENERATION}${NOW}${LATE}${VERSION_OF}${ANNOUNCE}${STAMP}
local fence = tonumber(ARGV[3])
local out = {}
local written = false
for i = first, #KEYS do
  local at = 7 + (i - first) * 4
  local condition = ARGV[at + 2]
  local current = nil
  if condition ~= '' then
    current = version_of(KEYS[i])
    if 'v' .. current == condition and now - tonumber(ARGV[at + 3]) < fence then current = nil end
  end
  if current == nil then
    if not written then announce(4) end
    written = true
    redis.call('SET', KEYS[i], ARGV[at], 'PX', ARGV[at + 1])
    if #ARGV[at] >= 32 then stamp(KEYS[i], ARGV[at], ARGV[at + 1]) end
    -- Expiring before the fence window ends: keep its version (envelope bytes 9-24) that long.
    if tonumber(ARGV[at + 1]) < fence then
      redis.call('SET', version_key(KEYS[i]), string.sub(ARGV[at], 9, 24), 'PX', fence)
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = current
  end
end
out[#out + 1] = now
return out`

/**
 * KEYS: [generation] value; ARGV: [generation], deadline, fence ms, then per
 * key: afterFresh (6 bytes), PX, never stale ('1'/'0'), kept until deleted
 * ('1'/'0'), condition ('v' + the version id read), read at. A record still
 * held at that version, read within the fence window, is made fresh again in
 * place: flags and afterFresh rewritten (SETRANGE, 7 bytes), PEXPIRE; data,
 * meta, stale window and version untouched, the resurrected mark cleared.
 * Anything else (absent, a tombstone, a miss, another version) is refused,
 * so a "not modified" answer never brings back what is gone. → per key 1
 * (touched) or the version id found, then Redis's time; or 'late'.
 */
const TOUCH = `${CHECK_GENERATION}${NOW}${LATE}${VERSION_OF}${STAMP}
local fence = tonumber(ARGV[3])
local out = {}
for i = first, #KEYS do
  local at = 4 + (i - first) * 6
  local current = version_of(KEYS[i])
  local head = redis.pcall('GETRANGE', KEYS[i], 0, 1)
  local flags = nil
  if type(head) == 'string' and #head == 2 and (string.byte(head, 1) == 0xCC or string.byte(head, 1) == 0xCB) then
    flags = string.byte(head, 2)
  end
  -- held (not a tombstone, bit 4; not a miss, bit 0), at the version read, read within the fence window
  if flags ~= nil and bit.band(flags, 17) == 0 and 'v' .. current == ARGV[at + 4]
      and now - tonumber(ARGV[at + 5]) < fence then
    flags = bit.band(flags, 255 - 2 - 4 - 32)
    if ARGV[at + 2] == '1' then flags = bit.bor(flags, 2) end
    if ARGV[at + 3] == '1' then flags = bit.bor(flags, 4) end
    redis.call('SETRANGE', KEYS[i], 1, string.char(flags) .. ARGV[at])
    redis.call('PEXPIRE', KEYS[i], ARGV[at + 1])
    stamp(KEYS[i], head, ARGV[at + 1])
    if tonumber(ARGV[at + 1]) < fence then
      redis.call('SET', version_key(KEYS[i]), current, 'PX', fence)
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = current
  end
end
out[#out + 1] = now
return out`

/**
 * KEYS: generation; ARGV: '', deadline, publish command, channel, message
 * (see ANNOUNCE) → the new generation (above the current one, and never
 * below Redis's time in µs), or 'late'.
 */
const PURGE = `${NOW}${LATE}${ANNOUNCE}${NEW_GENERATION}
announce(3)
return new_generation(tonumber(redis.call('GET', KEYS[1]) or '0'))`

/** KEYS: generation → the namespace's generation, a new one when the key is missing (see CHECK_GENERATION). */
const GENERATION = `${NEW_GENERATION}
return redis.call('GET', KEYS[1]) or new_generation(0)`

/** KEYS: lock; ARGV: token, deadline, lease ms → 'OK' when taken, false when held, or 'late'. */
const ACQUIRE = `${NOW}
if ARGV[2] ~= '' and now > tonumber(ARGV[2]) then return 'late' end
return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3], 'NX')`

/**
 * KEYS: lock; ARGV: token, channel → 1 when released. Announces the release so
 * waiters wake; a PUBLISH Redis refuses (an ACL user without the channel) must
 * not fail a release whose DEL is done (reported as not applied, the lock
 * gone): waiters also re-check the key on a backoff.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.pcall('PUBLISH', ARGV[2], KEYS[1])
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
  tiercacheTouch: TOUCH,
  tiercachePurge: PURGE,
  tiercacheGeneration: GENERATION,
  tiercacheAcquire: ACQUIRE,
  tiercacheRelease: RELEASE,
  tiercacheExtend: EXTEND,
} as const

/**
 * The scripts whose effect must not happen twice (writes, a lock's acquire and release), by
 * what ioredis sends as their first argument: the script's SHA1 (EVALSHA) or its source (EVAL,
 * its first use on a connection). RedisStore takes them out of ioredis's queue of unanswered
 * commands when a connection closes, so they are not sent again on the next one.
 */
export const RUN_ONCE: ReadonlySet<string> = new Set(
  [WRITE, TOUCH, PURGE, ACQUIRE, RELEASE].flatMap((lua) => [lua, createHash('sha1').update(lua).digest('hex')]),
)

type Arg = string | Buffer | number

/** The client with the scripts registered (ioredis adds one method, plus a `…Buffer` twin, per script). */
export interface ScriptedClient {
  tiercacheReadBuffer(numKeys: number, ...args: Arg[]): Promise<unknown>
  tiercacheWriteBuffer(numKeys: number, ...args: Arg[]): Promise<unknown>
  tiercacheTouchBuffer(numKeys: number, ...args: Arg[]): Promise<unknown>
  tiercachePurge(numKeys: number, ...args: Arg[]): Promise<string>
  tiercacheGeneration(numKeys: number, ...args: Arg[]): Promise<string>
  tiercacheAcquire(numKeys: number, ...args: Arg[]): Promise<string | null>
  tiercacheRelease(numKeys: number, ...args: Arg[]): Promise<number>
  tiercacheExtend(numKeys: number, ...args: Arg[]): Promise<number>
}

/** A pipeline with the scripts registered. */
export interface ScriptedPipeline {
  tiercacheReadBuffer(numKeys: number, ...args: Arg[]): ScriptedPipeline
  tiercacheWriteBuffer(numKeys: number, ...args: Arg[]): ScriptedPipeline
  tiercacheTouchBuffer(numKeys: number, ...args: Arg[]): ScriptedPipeline
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
