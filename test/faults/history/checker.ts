/**
 * The history checker: verifies guarantees (1)-(4) of docs/consistency.md over
 * a history of many nodes (see history.ts). Pure: no I/O, no clock.
 *
 * Which write produced a value is known from the value itself (values are
 * unique). Absence (a `get` that resolved `undefined`) is produced by the
 * initial state, a `delete` of the key or a `purge`.
 *
 * "P is older than W" means P happened before W started: a `set`/`delete`/`purge`
 * P that completed before W was invoked, or a loader call P that started
 * before W was invoked. (A load that starts while W runs is concurrent with W
 * and may be ordered after it; a load that started before W must never win.)
 */
import type { History, LoadCall, Operation, Span } from './history.js'

/** Which guarantee a violation breaks. */
export type Guarantee =
  /** (1) after a write resolved, the writer's node or the store served an older value. */
  | 'lost-write'
  /** (2) a node returned an older value more than `maxStaleness` after a write resolved. */
  | 'stale-read'
  /** (3) after a write rejected, nodes disagree about whether it happened. */
  | 'rejected-write-served'
  /** (4) a loader call while a value of the key was fresh or being loaded, with a healthy store. */
  | 'extra-load'
  /** (4) a call that took longer than `lockWait` + one lease. */
  | 'slow-call'
  /** A value no write of this key produced (corruption, key collision, or a read before its write). */
  | 'unexplained-value'

/** One breach of a guarantee, with the operations that show it. */
export interface Violation {
  readonly guarantee: Guarantee
  readonly key: string
  readonly node: string
  /** When it was seen (the read's invoke, or the extra load's start). */
  readonly at: number
  readonly detail: string
}

/** The per-run figures of docs/reliability.md. */
export interface Figures {
  readonly operations: number
  /** Reads that returned a value some guarantee forbids (goal 0). */
  readonly wrongValues: number
  /** Longest time between a write resolving and a read, started after it, returning an older value. */
  readonly worstStalenessMs: number
  readonly boundMs: number
  /** Calls that rejected (a store failure must reject a write; gets should not reject). */
  readonly rejected: number
  /** Calls that never completed before the run ended. */
  readonly unfinished: number
  readonly extraLoads: number
  readonly slowestCallMs: number
  /** From the heal of the fault to the completion of the last rejected or wrong call; 0 if none after it. */
  readonly timeToRecoverMs: number
}

/** What the checker found. */
export interface Verdict {
  readonly violations: readonly Violation[]
  readonly figures: Figures
}

/**
 * Slack for times that two processes derive from the same store write (a
 * value's expiry in L1 vs in Redis: ms rounding of PTTL and of the cached
 * clock), never applied to the staleness bound itself.
 */
export const EXPIRY_SLACK_MS = 20

/** Who may have produced a value a read returned. */
type Producer =
  | { readonly kind: 'write'; readonly op: Operation }
  | { readonly kind: 'load'; readonly load: LoadCall }
  | { readonly kind: 'initial' }

const isWrite = (op: Operation) => op.kind !== 'get'
const concerns = (op: Operation, key: string) => op.kind === 'purge' || op.key === key

/** Check a history; never throws on a bad history, reports it. */
export function check(history: History): Verdict {
  const violations: Violation[] = []
  const keys = new Set<string>()
  for (const op of history.operations) if (op.key !== undefined) keys.add(op.key)
  for (const load of history.loads) keys.add(load.key)
  const producers = indexProducers(history)
  let wrong = 0
  let worstStaleness = 0
  const wrongAt: number[] = []

  for (const key of keys) {
    const writes = history.operations.filter((op) => isWrite(op) && concerns(op, key))
    const reads = history.operations.filter((op) => op.kind === 'get' && op.key === key && op.ok === true)
    const flagged = new Set<Operation>()
    const flag = (read: Operation, violation: Violation) => {
      violations.push(violation)
      if (!flagged.has(read)) {
        flagged.add(read)
        wrong++
        wrongAt.push(Number.isFinite(read.complete) ? read.complete : read.invoke)
      }
    }

    for (const read of reads) {
      const candidates = candidatesOf(read, key, producers, writes)
      if (candidates === undefined) {
        flag(read, {
          guarantee: 'unexplained-value',
          key,
          node: read.node,
          at: read.invoke,
          detail: `${read.id} returned ${show(read.value)}, which no write or load of "${key}" produced before it returned`,
        })
        continue
      }
      // (1) and (2): the oldest resolved write this read should have seen
      for (const write of writes) {
        if (write.ok !== true || write.complete >= read.invoke) continue
        if (!candidates.every((p) => olderThan(p, write))) continue
        const staleness = read.invoke - write.complete
        worstStaleness = Math.max(worstStaleness, staleness)
        const sameNode = read.node === write.node
        if (!sameNode && staleness <= history.maxStalenessMs) continue
        const fromStore = read.hitLevel === 2 || read.hitLevel === 3
        flag(read, {
          guarantee: sameNode || fromStore ? 'lost-write' : 'stale-read',
          key,
          node: read.node,
          at: read.invoke,
          detail:
            `${read.id} on ${read.node} (hitLevel ${read.hitLevel}) returned ${show(read.value)}, older than ` +
            `${write.id} (${describeWrite(write)} on ${write.node}) that resolved ${round(staleness)} ms before it started`,
        })
        break
      }
    }

    // (3): after a rejected write, nodes must not disagree about whether it happened
    for (const rejected of writes) {
      if (rejected.ok !== false) continue
      const from = rejected.complete + history.maxStalenessMs
      const next = writes.find((w) => w !== rejected && w.invoke > rejected.invoke)
      const to = next?.invoke ?? Number.POSITIVE_INFINITY
      const window = reads.filter((r) => r.invoke > from && r.complete < to)
      const classify = (read: Operation) => {
        const candidates = candidatesOf(read, key, producers, writes) ?? []
        return candidates.length > 0 && candidates.every((p) => olderThan(p, rejected)) ? 'before' : 'after'
      }
      const before = window.filter((r) => classify(r) === 'before')
      const after = window.filter((r) => classify(r) === 'after')
      const itself = after.filter((r) => rejected.kind === 'set' && r.value === rejected.value)
      // An older value served after a newer one (its own or a load after it) was served,
      // or the rejected value appearing after older values were served (it landed late).
      const back = before.find((b) => after.some((a) => b.invoke > a.complete + EXPIRY_SLACK_MS))
      const late = itself.find((a) => before.some((b) => a.invoke > b.complete))
      const culprit = back ?? late
      if (culprit !== undefined) {
        flag(culprit, {
          guarantee: 'rejected-write-served',
          key,
          node: culprit.node,
          at: culprit.invoke,
          detail:
            `${rejected.id} (${describeWrite(rejected)} on ${rejected.node}) rejected; afterwards ` +
            `${before.length} reads returned older values and ${after.length} returned it or newer ` +
            `(first disagreement: ${culprit.id} on ${culprit.node} returned ${show(culprit.value)})`,
        })
      }
    }

    // (4): one loader call per key per expiry while the store is healthy
    const loads = history.loads.filter((l) => l.key === key).sort((a, b) => a.start - b.start)
    for (const [i, load] of loads.entries()) {
      if (within(load.start, history.unhealthy)) continue
      const cover = freshCover(load, loads.slice(0, i), writes, history)
      if (cover !== undefined) {
        violations.push({
          guarantee: 'extra-load',
          key,
          node: load.node,
          at: load.start,
          detail: `loader call ${load.value} on ${load.node} while ${cover} (no delete or purge in between)`,
        })
      }
    }
  }

  const ops = history.operations
  const completed = ops.filter((op) => Number.isFinite(op.complete))
  if (history.maxCallMs !== undefined) {
    for (const op of completed) {
      if (op.complete - op.invoke <= history.maxCallMs) continue
      violations.push({
        guarantee: 'slow-call',
        key: op.key ?? '*',
        node: op.node,
        at: op.invoke,
        detail: `${op.id} (${op.kind} on ${op.node}) took ${round(op.complete - op.invoke)} ms, over ${history.maxCallMs} ms`,
      })
    }
  }
  const failedAt = [...wrongAt, ...ops.filter((op) => op.ok === false).map((op) => op.complete)]
  const lastBad = failedAt.length === 0 ? Number.NEGATIVE_INFINITY : Math.max(...failedAt)
  return {
    violations,
    figures: {
      operations: ops.length,
      wrongValues: wrong,
      worstStalenessMs: round(worstStaleness),
      boundMs: history.maxStalenessMs,
      rejected: ops.filter((op) => op.ok === false).length,
      unfinished: ops.length - completed.length,
      extraLoads: violations.filter((v) => v.guarantee === 'extra-load').length,
      slowestCallMs: round(completed.reduce((max, op) => Math.max(max, op.complete - op.invoke), 0)),
      timeToRecoverMs:
        history.healedAt === undefined
          ? 0
          : round(Math.max(0, Number.isFinite(lastBad) ? lastBad - history.healedAt : 0)),
    },
  }
}

/** value → the write or loader call that produced it. */
function indexProducers(history: History): Map<string, Producer> {
  const producers = new Map<string, Producer>()
  for (const op of history.operations) {
    if (op.kind === 'set' && op.value !== undefined) producers.set(op.value, { kind: 'write', op })
  }
  for (const load of history.loads) producers.set(load.value, { kind: 'load', load })
  return producers
}

/**
 * Who may have produced what `read` returned; `undefined` when nobody can have
 * (a value of another key, or of a write that started after the read returned).
 */
function candidatesOf(
  read: Operation,
  key: string,
  producers: ReadonlyMap<string, Producer>,
  writes: readonly Operation[],
): Producer[] | undefined {
  if (read.value === undefined) {
    const erasers = writes.filter((w) => w.kind !== 'set' && w.invoke < read.complete)
    return [{ kind: 'initial' }, ...erasers.map((op): Producer => ({ kind: 'write', op }))]
  }
  const producer = producers.get(read.value)
  if (producer === undefined || producer.kind === 'initial') return undefined
  const [producerKey, started] =
    producer.kind === 'write' ? [producer.op.key, producer.op.invoke] : [producer.load.key, producer.load.start]
  if (producerKey !== key || started > read.complete) return undefined
  return [producer]
}

/** P happened before W started (see the module comment). */
function olderThan(p: Producer, w: Operation): boolean {
  if (p.kind === 'initial') return true
  if (p.kind === 'load') return p.load.start < w.invoke
  if (p.op === w) return false
  return p.op.complete < w.invoke
}

/**
 * Why `load` should not have run: a value of its key that was still fresh or
 * still being loaded when it started, with no delete or purge since (or running
 * when that load started). `undefined` if none.
 */
function freshCover(
  load: LoadCall,
  earlier: readonly LoadCall[],
  writes: readonly Operation[],
  history: History,
): string | undefined {
  // A delete or purge not yet complete when the earlier load started may rightly have discarded it.
  const erasedSince = (t: number) => writes.some((w) => w.kind !== 'set' && w.complete >= t && w.invoke <= load.start)
  const fresh = history.ttlMs === 0 ? Number.POSITIVE_INFINITY : history.ttlMs - EXPIRY_SLACK_MS
  for (let i = earlier.length - 1; i >= 0; i--) {
    const before = earlier[i]!
    if (within(before.start, history.unhealthy) || overlaps(before, history.unhealthy)) continue
    // Erased since the earlier load's deciding read left: its write-back was fenced out, so its value was never stored.
    if (load.start < before.end + fresh && !erasedSince(before.decidedAt ?? before.start)) {
      const state =
        before.end >= load.start ? 'still being loaded' : `fresh for ${round(before.end + fresh - load.start)} ms more`
      return `${before.value} (loaded on ${before.node}) was ${state}`
    }
  }
  // A set the load's last store read could not see (it completed after that read was sent) is concurrent with it.
  const decided = load.decidedAt ?? load.start
  for (const w of writes) {
    if (w.kind !== 'set' || w.ok !== true || w.complete >= decided) continue
    if (overlaps({ start: w.invoke, end: w.complete }, history.unhealthy)) continue
    if (load.start < w.invoke + fresh && !erasedSince(w.invoke)) {
      return `${w.value} (set on ${w.node}) was fresh for ${round(w.invoke + fresh - load.start)} ms more`
    }
  }
  return undefined
}

function within(t: number, spans: readonly Span[]): boolean {
  return spans.some((s) => t >= s.from && t <= s.to)
}

function overlaps(interval: { start: number; end: number }, spans: readonly Span[]): boolean {
  return spans.some((s) => interval.start <= s.to && interval.end >= s.from)
}

function describeWrite(op: Operation): string {
  if (op.kind === 'set') return `set ${show(op.value)}`
  return op.kind === 'purge' ? 'purge' : `delete`
}

function show(value: string | undefined): string {
  return value === undefined ? 'a miss' : JSON.stringify(value)
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10
}
