import { createHash } from 'node:crypto'

/**
 * Where RedisStore keeps things, for one `prefix`:
 *
 *   value       <prefix>{<ns>:<key>}:<generation>
 *   version     <prefix>{<ns>:<key>}:<generation>:v   (a short-lived record's version, kept fenceMs; see scripts.ts)
 *   lock        <prefix>{<ns>:<key>}:lock
 *   generation  <prefix>{<ns>}:gen
 *   channel     <prefix>lock-released        (pub/sub, carries lock keys)
 *
 * The `{...}` hash tag puts a value key and its lock in one Cluster slot, so
 * scripts that touch both stay legal, while different keys spread over slots.
 *
 * Namespaces and keys are user input. A part is kept readable when it is short
 * and made of safe characters; anything else becomes `#` + a SHA-256 digest.
 * Readable namespaces never contain `:`, `{`, `}` or `#`, readable keys never
 * contain `{`, `}` or start with `#`, so the first `:` inside the tag always
 * ends the namespace, the `}` always ends the key, and no (namespace, key)
 * pair can spell the key of another.
 */

/** Longest part kept readable; longer ones are hashed so key length stays bounded. */
const MAX_READABLE = 128

/**
 * The safe characters, by char code: `A-Z a-z 0-9 _ . - / @ = +` in both
 * parts, and `: | , ;` in keys only. A table lookup per character rather
 * than a regular expression: this runs on every read (issue 15).
 */
const SAFE_IN_NAMESPACE = new Uint8Array(128)
const SAFE_IN_KEY = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/@=+') {
  SAFE_IN_NAMESPACE[c.charCodeAt(0)] = 1
  SAFE_IN_KEY[c.charCodeAt(0)] = 1
}
for (const c of ':|,;') SAFE_IN_KEY[c.charCodeAt(0)] = 1

/** Every char of `input` is marked in `safe` (ASCII only). */
function allSafe(input: string, safe: Uint8Array): boolean {
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i)
    if (code >= 128 || safe[code] === 0) return false
  }
  return true
}

function part(input: string, safe: Uint8Array): string {
  if (input.length > 0 && input.length <= MAX_READABLE && allSafe(input, safe)) return input
  return `#${createHash('sha256').update(input, 'utf8').digest('base64url')}`
}

/** Builds every Redis key and channel name for one prefix. */
export class KeySpace {
  readonly #prefix: string
  /** Pub/sub channel the release script announces freed lock keys on. */
  readonly releaseChannel: string

  constructor(prefix: string) {
    this.#prefix = prefix
    this.releaseChannel = `${prefix}lock-released`
  }

  /** The last namespace a stem was built for, and its part: a store serves one or two namespaces. */
  #namespace: string | undefined
  #namespacePart = ''

  /** The hash-tagged stem shared by a key's value and lock. */
  stem(namespace: string, key: string): string {
    if (namespace !== this.#namespace) {
      checkName(namespace, 'namespace')
      this.#namespacePart = part(namespace, SAFE_IN_NAMESPACE)
      this.#namespace = namespace
    }
    // A safe key is well-formed (ASCII): only the others need the surrogate check.
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_READABLE || !allSafe(key, SAFE_IN_KEY)) {
      checkName(key, 'key')
      return `${this.#prefix}{${this.#namespacePart}:${part(key, SAFE_IN_KEY)}}`
    }
    return `${this.#prefix}{${this.#namespacePart}:${key}}`
  }

  /** The value key of `key` in `namespace` at `generation`. */
  value(namespace: string, key: string, generation: string): string {
    return `${this.stem(namespace, key)}:${generation}`
  }

  /** The lock key of `key` in `namespace` (not per generation: a load is a load). */
  lock(namespace: string, key: string): string {
    return `${this.stem(namespace, key)}:lock`
  }

  /** The last namespace a generation key was built for, and that key. */
  #generationOf: string | undefined
  #generationKey = ''

  /** The counter `purge` increments. */
  generation(namespace: string): string {
    if (namespace !== this.#generationOf) {
      checkName(namespace, 'namespace')
      this.#generationKey = `${this.#prefix}{${part(namespace, SAFE_IN_NAMESPACE)}}:gen`
      this.#generationOf = namespace
    }
    return this.#generationKey
  }
}

/**
 * Namespaces and keys may be any non-empty well-formed string; anything else is
 * a caller's bug. A lone UTF-16 surrogate (half an emoji) has no UTF-8 form:
 * it would be sent as U+FFFD, and two different keys would name one record.
 */
function checkName(value: unknown, argument: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(
      `${argument} must be a non-empty string, got ${typeof value === 'string' ? '""' : typeof value}`,
    )
  }
  if (!(value as WellFormed).isWellFormed()) {
    throw new TypeError(`${argument} must be well-formed UTF-16 (it holds a lone surrogate): ${JSON.stringify(value)}`)
  }
}

/** `String.prototype.isWellFormed` (Node 20; ES2024, past this project's `lib`). */
type WellFormed = string & { isWellFormed(): boolean }
