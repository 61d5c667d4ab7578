import { randomBytes } from 'node:crypto'
import { StoreCallError, type StoreLock } from '@tiercache/core'
import type { Cluster, Redis } from 'ioredis'
import type { CommandGuard } from './command-guard.js'
import { LateCommandError } from './errors.js'
import type { KeySpace } from './keys.js'
import type { ReleaseListener } from './release-listener.js'
import type { ScriptedClient } from './scripts.js'

/** How waiters re-check a lock key when no release message arrives. */
export interface LockTiming {
  /** First re-check delay, in ms; it doubles up to `maxRecheckMs`. */
  readonly minRecheckMs: number
  /** Longest delay between two re-checks, in ms. */
  readonly maxRecheckMs: number
  /** Longest wait for the subscription before relying on re-checks alone, in ms. */
  readonly subscribeTimeoutMs: number
}

/**
 * The distributed lock of RedisStore.
 *
 * - acquire: `SET lock token NX PX lease`, in a script that refuses it past
 *   the call's deadline, so an acquire the caller gave up on (Redis frozen,
 *   or the command stuck in ioredis's offline queue) cannot take the lock
 *   later and leave it to nobody; the lease frees the key of a crashed holder.
 *   An acquire whose outcome is unknown (its connection died with the call in
 *   flight, or its reply came too late) may still have taken the lock that
 *   nobody will use: it is released by its token as soon as Redis answers
 *   again, so other processes do not wait out `lockWait` for it.
 * - release / extend: compare-and-delete / compare-and-pexpire scripts, so a
 *   holder whose lease ran out cannot free or extend somebody else's lock.
 *   Release PUBLISHes the lock key on the release channel.
 * - waitForRelease: woken by that message through the store's one subscriber
 *   connection; meanwhile it re-checks the key on a doubling backoff, and
 *   right after the lease's PTTL, so a crashed holder is noticed when its
 *   lease ends and a lost message costs at most one backoff step.
 */
export class RedisLock implements StoreLock {
  readonly #client: Redis | Cluster
  readonly #scripts: ScriptedClient
  readonly #keys: KeySpace
  readonly #guard: CommandGuard
  readonly #listener: ReleaseListener
  readonly #timing: LockTiming

  constructor(deps: {
    client: Redis | Cluster
    scripts: ScriptedClient
    keys: KeySpace
    guard: CommandGuard
    listener: ReleaseListener
    timing: LockTiming
  }) {
    this.#client = deps.client
    this.#scripts = deps.scripts
    this.#keys = deps.keys
    this.#guard = deps.guard
    this.#listener = deps.listener
    this.#timing = deps.timing
  }

  /** Take the lock on `key` for `leaseMs` if nobody holds it; resolves to the owner token, or `undefined`. */
  async acquire(namespace: string, key: string, leaseMs: number): Promise<string | undefined> {
    const lease = checkLease(leaseMs)
    const lockKey = this.#keys.lock(namespace, key)
    const token = randomBytes(16).toString('base64url')
    const reply = await this.#guard
      .run('lock', async ({ deadline }) => {
        const reply = await this.#scripts.tiercacheAcquire(1, lockKey, token, deadline, lease)
        if (reply === 'late') throw new LateCommandError()
        return reply
      })
      .catch((error: unknown) => {
        if (error instanceof StoreCallError && error.outcome === 'unknown') this.#releaseOrphan(lockKey, token, lease)
        throw error
      })
    return reply === 'OK' ? token : undefined
  }

  /**
   * Release by its token a lock an acquire may have taken without its caller
   * knowing: sent straight to the client, which delivers it once Redis answers
   * again (a frozen server runs it when it resumes; a reconnecting client sends
   * it from its offline queue), retried on a doubling backoff if it fails,
   * until the lease has ended anyway. Not through the guard: a background
   * clean-up is not traffic, and must neither count as a failure nor weigh on
   * the circuit breaker. Compare-and-delete, however late it runs: a lock the
   * acquire did not take is left alone.
   */
  #releaseOrphan(lockKey: string, token: string, leaseMs: number): void {
    const until = performance.now() + leaseMs
    let backoff = this.#timing.minRecheckMs
    const attempt = () => {
      if (performance.now() >= until || this.#client.status === 'end') return
      this.#scripts.tiercacheRelease(1, lockKey, token, this.#keys.releaseChannel).then(
        (released) => {
          if (released === 1) this.#listener.announce(lockKey)
        },
        () => {
          setTimeout(attempt, backoff).unref()
          backoff = Math.min(backoff * 2, this.#timing.maxRecheckMs)
        },
      )
    }
    attempt()
  }

  /** Release the lock if `token` still owns it; wakes every waiter in the fleet. */
  async release(namespace: string, key: string, token: string): Promise<boolean> {
    const lockKey = this.#keys.lock(namespace, key)
    const released = await this.#guard
      .run('unlock', () => this.#scripts.tiercacheRelease(1, lockKey, token, this.#keys.releaseChannel))
      .catch((error: unknown) => {
        // Refused while reconnecting, or lost with its connection: the lock would stay held by
        // nobody for the rest of its lease, and every other process wait lockWait for it.
        if (error instanceof StoreCallError) this.#releaseOrphan(lockKey, token, ORPHAN_RELEASE_MS)
        throw error
      })
    // Local waiters need not wait for the message to come back through Redis.
    if (released === 1) this.#listener.announce(lockKey)
    return released === 1
  }

  /** Push the lease of a lock `token` still owns to `leaseMs` from now. */
  async extend(namespace: string, key: string, token: string, leaseMs: number): Promise<boolean> {
    const lease = checkLease(leaseMs)
    const lockKey = this.#keys.lock(namespace, key)
    const extended = await this.#guard.run('extend', () => this.#scripts.tiercacheExtend(1, lockKey, token, lease))
    return extended === 1
  }

  /** Wait until `key`'s lock is released or its lease ends (`true`), or `timeoutMs` passes (`false`). */
  async waitForRelease(namespace: string, key: string, timeoutMs: number): Promise<boolean> {
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      throw new TypeError(`timeoutMs must be a number >= 0, got ${String(timeoutMs)}`)
    }
    const lockKey = this.#keys.lock(namespace, key)
    const deadline = performance.now() + timeoutMs
    let released = false
    let wake: (() => void) | undefined
    // Listen before the first check: a release between the check and the
    // subscription would otherwise go unheard until the next re-check.
    const stopListening = this.#listener.listen(lockKey, () => {
      released = true
      wake?.()
    })
    // Subscribe (first wait only) while checking the key: a store that is down
    // fails here at once instead of waiting for a subscription.
    const subscribed = this.#listener.ready(Math.min(timeoutMs, this.#timing.subscribeTimeoutMs))
    try {
      let backoff = this.#timing.minRecheckMs
      while (!released) {
        const pttl = await this.#guard.run('waitForRelease', () => this.#client.pttl(lockKey))
        if (pttl === -2) return true
        await subscribed
        const remaining = deadline - performance.now()
        if (released) return true
        if (remaining <= 0) return false
        // Re-check just after the lease runs out, when that is sooner than the backoff.
        const untilLeaseEnds = pttl >= 0 ? pttl + 1 : backoff
        const delay = Math.min(backoff, untilLeaseEnds, remaining)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay)
          wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        wake = undefined
        backoff = Math.min(backoff * 2, this.#timing.maxRecheckMs)
        if (!released && performance.now() >= deadline) return false
      }
      return true
    } finally {
      stopListening()
    }
  }
}

/** How long a failed release keeps being retried in the background (its lease is not known there). */
const ORPHAN_RELEASE_MS = 60_000

function checkLease(leaseMs: number): number {
  if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new TypeError(`leaseMs must be a finite number > 0, got ${String(leaseMs)}`)
  }
  return Math.ceil(leaseMs)
}
