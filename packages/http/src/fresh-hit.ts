import { ageSeconds, type CachedResponse } from './cached-response.js'
import { noContent } from './reply.js'

/**
 * A fresh hit ready to write: the status, the whole reply head as a flat
 * `[name, value, …]` list for `writeHead`, and the body (`undefined` for HEAD
 * and for statuses without content). Built once per entry and second of `Age`,
 * so a hit copies no header and formats no number.
 */
export interface FreshHit {
  readonly status: number
  readonly head: readonly string[]
  readonly body: Uint8Array | undefined
}

/** The hits last built for a response (GET and HEAD), and the `Age` they carry. */
interface BuiltHead {
  readonly age: number
  readonly get: FreshHit
  readonly head: FreshHit
}

/**
 * Reply heads of fresh hits, one per cached response (the response object is
 * the entry's own, replaced on refresh, so a stale head is never found).
 */
export class FreshHeads {
  readonly #statusHeader: string | undefined
  readonly #heads = new WeakMap<CachedResponse, BuiltHead>()

  constructor(statusHeader: string | undefined) {
    this.#statusHeader = statusHeader
  }

  /** The hit for `cached` at `now`, as `replyFromCache(cached, 'HIT', …)` would write it. */
  hit(cached: CachedResponse, method: string, now: number): FreshHit {
    const age = ageSeconds(cached, now)
    let built = this.#heads.get(cached)
    if (built === undefined || built.age !== age) {
      const head = this.#build(cached, age)
      const status = cached.status
      built = {
        age,
        get: { status, head, body: noContent(status) ? undefined : cached.body },
        head: { status, head, body: undefined },
      }
      this.#heads.set(cached, built)
    }
    return method === 'HEAD' ? built.head : built.get
  }

  #build(cached: CachedResponse, age: number): string[] {
    const head: string[] = []
    for (const name in cached.headers) {
      const value = cached.headers[name]!
      if (typeof value === 'string') head.push(name, value)
      else for (const each of value) head.push(name, each)
    }
    if (age > 0) head.push('age', String(age))
    if (!noContent(cached.status)) head.push('content-length', String(cached.body.byteLength))
    if (this.#statusHeader !== undefined) head.push(this.#statusHeader, 'HIT')
    return head
  }
}
