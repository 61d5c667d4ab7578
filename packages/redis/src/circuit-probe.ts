import type { Cluster, Redis } from 'ioredis'
import type { CircuitBreaker } from './circuit-breaker.js'
import type { CommandGuard } from './command-guard.js'

/** What a {@link CircuitProbe} needs from its store. */
export interface CircuitProbeOptions {
  readonly client: Redis | Cluster
  readonly guard: CommandGuard
  readonly breaker: CircuitBreaker
  /** The breaker's `openMs`: how long after opening the probe goes. */
  readonly openMs: number
}

/**
 * Moves an open circuit on without traffic. The breaker alone only changes
 * state when a call comes, so with no reads a circuit stayed `open` long after
 * Redis came back and a health check lied. `openMs` after the circuit opens,
 * and at once when the client reconnects, one PING goes as the breaker's probe:
 * its answer closes the circuit, its failure opens it for another `openMs`.
 */
export class CircuitProbe {
  readonly #o: CircuitProbeOptions
  #timer: ReturnType<typeof setTimeout> | undefined
  #stopped = false
  readonly #probe = (): void => {
    this.#timer = undefined
    if (this.#stopped || this.#o.breaker.state === 'closed') return
    // Only a call the breaker would let through, to a connected client: a refused probe
    // would count as a failure of its own.
    if (!this.#o.breaker.probeDue) {
      // A timer may fire a fraction of a millisecond before `openMs` has passed by
      // performance.now(); returning then left the circuit open with no probe to
      // come (seen in CI). Wait out the rest. A probe already running needs no timer.
      const waitMs = this.#o.breaker.msUntilProbe
      if (waitMs > 0) this.#schedule(waitMs)
      return
    }
    if (this.#o.client.status !== 'ready') {
      this.opened()
      return
    }
    this.#o.guard
      .run('ping', () => this.#o.client.ping())
      .then(
        () => {},
        // Failed (the breaker re-opened) or lost to a race with a call: try again later.
        () => {
          if (this.#o.breaker.state !== 'closed') this.opened()
        },
      )
  }

  constructor(options: CircuitProbeOptions) {
    this.#o = options
    options.client.on('ready', this.#probe)
  }

  /** The circuit opened (or a probe failed): probe again once `openMs` has passed. */
  opened(): void {
    if (this.#stopped) return
    this.#schedule(this.#o.openMs)
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    // +1: setTimeout counts whole milliseconds and may fire just short of `ms`.
    this.#timer = setTimeout(this.#probe, ms + 1)
    this.#timer.unref?.()
  }

  /** No more probes (the store is closing). */
  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#o.client.off('ready', this.#probe)
  }
}
