/**
 * What a received sequence number says: `next` (nothing lost), `gap` (at least
 * one message from that sender was lost), `old` (a duplicate or a late
 * message: harmless, evicting twice is still evicting).
 */
export type SequenceVerdict = 'next' | 'gap' | 'old'

/**
 * Remembers the last sequence number seen per (sender, namespace), to notice
 * lost messages. Senders that went away are forgotten oldest first once a
 * namespace tracks `maxSenders` of them, so node churn cannot grow it forever.
 */
export class SequenceTracker {
  readonly #maxSenders: number
  readonly #last = new Map<string, Map<string, number>>()

  constructor(maxSenders = 10_000) {
    this.#maxSenders = maxSenders
  }

  /**
   * Record `seq` from `sender` on `namespace`. An invalidation must carry the
   * last number + 1; a heartbeat repeats the last number. The first message
   * from a sender is `next`: what it sent before is not ours to know.
   */
  observe(sender: string, namespace: string, seq: number, heartbeat: boolean): SequenceVerdict {
    let senders = this.#last.get(namespace)
    if (senders === undefined) {
      senders = new Map()
      this.#last.set(namespace, senders)
    }
    const last = senders.get(sender)
    if (last !== undefined && seq <= last - (heartbeat ? 1 : 0)) return 'old'
    // Delete first so the Map's insertion order stays oldest-heard-from first.
    senders.delete(sender)
    senders.set(sender, seq)
    if (senders.size > this.#maxSenders) senders.delete(senders.keys().next().value as string)
    if (last === undefined) return 'next'
    return seq === last + (heartbeat ? 0 : 1) ? 'next' : 'gap'
  }

  /** Forget every sender of `namespace`: after a reconnection the cache starts over, so old gaps mean nothing. */
  forget(namespace: string): void {
    this.#last.delete(namespace)
  }
}
