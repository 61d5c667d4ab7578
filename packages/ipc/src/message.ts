import { INVALIDATION_KINDS, type InvalidationKind } from '@tiercache/core'
import { Packr } from 'msgpackr'

/**
 * The wire format shared by every transport, encoded with msgpackr as a plain
 * map (no records), so a message is self-describing and any node decodes what
 * any other wrote:
 *
 *     { v: 1, node: 'k3J9…', ns: 'users', seq: 42, ops: [{ kind: 'set', keys: ['u:1', 'u:2'] }] }
 *
 * A message the shared store published with the write itself carries
 * `store: true` (see {@link InvalidationMessage.store}).
 *
 * One message concerns one namespace. `seq` counts the invalidation messages a
 * sender has sent for that namespace, so a receiver that sees 40 then 42 knows
 * it lost one. A message with no `ops` is a heartbeat: it repeats the sender's
 * last `seq` (so a lost *last* message is noticed too) and proves the path
 * from publisher to subscriber still works.
 */
export interface InvalidationMessage {
  /** Wire format version. */
  readonly v: typeof WIRE_VERSION
  /** Id of the sending node (one bus instance). */
  readonly node: string
  /** The namespace every op concerns. */
  readonly ns: string
  /** Per (sender, namespace) message counter, from 1; a heartbeat repeats the last one (0 before any). */
  readonly seq: number
  /** What changed; empty for a heartbeat. */
  readonly ops: readonly InvalidationOp[]
  /**
   * Heartbeats only: when the sender sent it, by its own monotonic clock
   * (`performance.now()`), so that when its echo comes back the sender knows
   * from which instant everything published before has reached it. Other
   * nodes ignore it (and nodes that predate it ignore the field).
   */
  readonly at?: number
  /**
   * Published by the shared store in the same atomic step as the write it
   * announces (a Lua script), not by the sender's bus: it cannot be lost
   * unless the write was, so it carries no sequence number of its own. `seq`
   * repeats the sender's last, as a heartbeat does, so a node that predates
   * the field applies it as a late message (or sees a real gap).
   */
  readonly store?: true
}

/** One kind of change over some keys; `purge` has no keys. */
export interface InvalidationOp {
  readonly kind: InvalidationKind
  readonly keys: readonly string[]
}

/** Bumped when the wire format changes incompatibly; a node drops the L1 of a namespace it cannot read. */
export const WIRE_VERSION = 1

const KINDS: ReadonlySet<string> = new Set<InvalidationKind>(INVALIDATION_KINDS)

// Plain maps rather than msgpackr records: records would need a structure
// table shared by every node of the fleet.
const packr = new Packr({ useRecords: false })

/** Encode a message for the wire. */
export function encodeMessage(message: InvalidationMessage): Uint8Array {
  return packr.pack(message)
}

/** Decode and validate bytes from the wire. Throws `TypeError` when they are not a message this version reads. */
export function decodeMessage(bytes: Uint8Array): InvalidationMessage {
  const value: unknown = packr.unpack(bytes)
  if (!isRecord(value)) throw new TypeError('message is not a map')
  const { v, node, ns, seq, ops, at, store } = value
  if (v !== WIRE_VERSION) throw new TypeError(`unsupported wire version ${String(v)}`)
  if (typeof node !== 'string' || node === '') throw new TypeError('message.node must be a non-empty string')
  if (typeof ns !== 'string') throw new TypeError('message.ns must be a string')
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw new TypeError('message.seq must be an integer >= 0')
  if (!Array.isArray(ops) || !ops.every(isOp)) throw new TypeError('message.ops must be a list of {kind, keys}')
  if (at !== undefined && (typeof at !== 'number' || !Number.isFinite(at)))
    throw new TypeError('message.at must be a number')
  if (store !== undefined && store !== true) throw new TypeError('message.store must be true when present')
  let message: InvalidationMessage = { v, node, ns, seq: seq as number, ops }
  if (at !== undefined) message = { ...message, at: at as number }
  if (store === true) message = { ...message, store }
  return message
}

/** True for a heartbeat (a message that changes nothing). */
export function isHeartbeat(message: InvalidationMessage): boolean {
  return message.ops.length === 0
}

function isOp(op: unknown): op is InvalidationOp {
  return (
    isRecord(op) &&
    typeof op.kind === 'string' &&
    KINDS.has(op.kind) &&
    Array.isArray(op.keys) &&
    op.keys.every((key) => typeof key === 'string')
  )
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
