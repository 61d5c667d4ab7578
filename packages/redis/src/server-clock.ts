/**
 * What this process knows of Redis's clock, to give writes a deadline Redis
 * itself enforces: a write or lock acquire the store gave up on must not run
 * later (from ioredis's offline queue after a reconnect, or from the socket
 * of a server that was frozen), after a newer write.
 *
 * Every script reply carries Redis's `TIME` (ms). The reply to a call sent at
 * local time `s` and received at `r` was produced between the two, so
 * `redisMs - r` is a lower bound of the offset between Redis's clock and the
 * local monotonic one. A deadline `D` (local) becomes `D + offset` in Redis
 * terms; using the lower bound, Redis refuses the write no later than the
 * moment the caller gave up, and a little earlier when the round trip that
 * taught the offset was slow. The best bound of the last `windowMs` is used,
 * so the estimate follows drift and clock steps of the server.
 *
 * The same reply also bounds the offset from above: it was produced after
 * `s`, and TIME is floored to the ms, so `redisMs + 1 - s` is an upper bound.
 * {@link ServerClock.latest} gives Redis's time over-estimated from the last
 * reply sent with its `s`: a record's remaining time taken from its expiry
 * stamp (envelope.ts) is then never longer than Redis's PTTL would say.
 *
 * On a Cluster each node has its own clock; the bound mixes their replies, so
 * nodes whose clocks disagree by X ms may run a late write up to X ms after
 * its deadline. Keep their clocks in sync (NTP), as Redis itself assumes.
 */
export class ServerClock {
  #offset: number | undefined
  #learnedAt = 0
  #upper: number | undefined
  #upperAt = 0
  /** `Date.now()` when the upper bound was learnt: the monotonic clock stops while the host sleeps. */
  #upperAtWall = 0
  readonly #windowMs: number
  readonly #now: () => number

  /** `now`: the local monotonic clock in ms. */
  constructor(now: () => number, windowMs = 10_000) {
    this.#now = now
    this.#windowMs = windowMs
  }

  /**
   * A reply said Redis's time was `redisMs` when it was received (local
   * `receivedAt`, default now); `sentAt`: when its call was sent, if known.
   */
  observe(redisMs: number, receivedAt = this.#now(), sentAt?: number): void {
    if (!Number.isFinite(redisMs)) return
    if (sentAt !== undefined) {
      this.#upper = redisMs + 1 - sentAt
      this.#upperAt = receivedAt
      this.#upperAtWall = Date.now()
    }
    const bound = redisMs - receivedAt
    if (this.#offset === undefined || bound >= this.#offset || receivedAt - this.#learnedAt > this.#windowMs) {
      this.#offset = bound
      this.#learnedAt = receivedAt
    }
  }

  /**
   * The Redis time (ms) matching local time `local`. Before the first reply
   * (a client still connecting), the local wall clock stands in: hosts kept in
   * sync by NTP agree to a few ms, and the first reply corrects it.
   */
  toRedis(local: number): number {
    const offset = this.#offset ?? Date.now() - this.#now()
    return Math.floor(local + offset)
  }

  /**
   * Redis's time (ms) at local time `local`, never under-estimated: from the
   * last reply observed with its send time, if it came at most `maxAgeMs`
   * ago (else `undefined`), plus 1 ms per second since for drift (NTP slews
   * clocks by at most 0.5 ms per second).
   */
  latest(local: number, maxAgeMs: number): number | undefined {
    const age = local - this.#upperAt
    if (this.#upper === undefined || age > maxAgeMs) return undefined
    // A host that slept (a suspended VM or laptop) has a monotonic clock that did not count the
    // sleep: the reading is as old as the wall clock says (either clock stepping only costs a script read).
    const wallAge = Date.now() - this.#upperAtWall
    if (wallAge > maxAgeMs || wallAge < -maxAgeMs) return undefined
    return local + this.#upper + Math.max(0, age) / 1000
  }

  /** The connection changed (perhaps to another host, with another clock): forget the upper bound. */
  forgetLatest(): void {
    this.#upper = undefined
  }
}
