import type { CircuitState } from '@tiercache/core'

/** `closed`: calls go to Redis. `open`: calls fail at once. `half-open`: one probe call is let through. */
export type { CircuitState }

/** A call's ticket from `CircuitBreaker.allow`. */
export type Permit = 'call' | 'probe'
const CALL: Permit = 'call'
const PROBE: Permit = 'probe'

/** How the breaker trips and recovers. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  readonly failureThreshold: number
  /** How long the circuit stays open before a probe call is let through, in ms. */
  readonly openMs: number
  /** Called on every state change. */
  readonly onChange: (state: CircuitState) => void
  /** Milliseconds now; injectable for tests. */
  readonly now: () => number
}

/**
 * Counts consecutive failures of calls to Redis. After `failureThreshold` of
 * them the circuit opens: every call is refused without touching Redis, so a
 * dead server costs callers nothing. After `openMs` the next call goes through
 * as a probe (others are still refused while it runs); its success closes the
 * circuit, its failure opens it for another `openMs`.
 */
export class CircuitBreaker {
  #state: CircuitState = 'closed'
  #failures = 0
  #openedAt = 0
  #probing = false
  readonly #options: CircuitBreakerOptions

  constructor(options: CircuitBreakerOptions) {
    this.#options = options
  }

  /** The current state. */
  get state(): CircuitState {
    return this.#state
  }

  /** True when the next call would be let through as the probe (open for `openMs` or more, no probe running). */
  get probeDue(): boolean {
    if (this.#probing) return false
    if (this.#state === 'half-open') return true
    return this.#state === 'open' && this.#options.now() - this.#openedAt >= this.#options.openMs
  }

  /**
   * Milliseconds until the open circuit lets a probe through (0 when one is due
   * or the circuit is not open).
   */
  get msUntilProbe(): number {
    if (this.#state !== 'open') return 0
    return Math.max(0, this.#options.openMs - (this.#options.now() - this.#openedAt))
  }

  /**
   * Whether a call may go to Redis now: `undefined` when refused, otherwise a
   * permit to hand back to `succeeded` or `failed`. In the half-open state the
   * one permit given out is the probe's.
   */
  allow(): Permit | undefined {
    if (this.#state === 'closed') return CALL
    if (this.#state === 'open') {
      if (this.#options.now() - this.#openedAt < this.#options.openMs) return undefined
      this.#set('half-open')
    }
    if (this.#probing) return undefined
    this.#probing = true
    return PROBE
  }

  /** The call holding `permit` reached Redis and got an answer. */
  succeeded(permit: Permit): void {
    this.#failures = 0
    if (permit === PROBE) this.#probing = false
    if (this.#state !== 'closed') this.#set('closed')
  }

  /** The call holding `permit` failed in a way that says Redis is unreachable or unwell. */
  failed(permit: Permit): void {
    this.#failures++
    if (permit === PROBE) {
      this.#probing = false
      this.#open()
    } else if (this.#state === 'closed' && this.#failures >= this.#options.failureThreshold) {
      this.#open()
    }
  }

  #open(): void {
    this.#openedAt = this.#options.now()
    this.#set('open')
  }

  #set(state: CircuitState): void {
    this.#state = state
    this.#options.onChange(state)
  }
}
