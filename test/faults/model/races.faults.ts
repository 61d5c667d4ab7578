// Races, shrunk: fast-check interleaves calls of three caches (one MemoryStore,
// a BroadcastChannel bus each, as three nodes of one host would be) with the
// release of loaders it holds open, records the history, and holds it to the
// same checker as the fleet (guarantees (1), (2) and (4)). A violation shrinks
// to the shortest interleaving that shows it.
import { MemoryStore, TierCache } from '@tiercache/core'
import { BroadcastChannelIpc } from '@tiercache/ipc'
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { check } from '../history/checker.js'
import type { LoadCall, Operation } from '../history/history.js'
import { hostNow } from '../history/host-clock.js'

const SMOKE = process.env.FAULTS_SMOKE === '1'
/** A bus message is delivered within this (the bound the checker allows other nodes). */
const MAX_STALENESS_MS = 50
const NODES = ['A', 'B', 'C'] as const

type Step =
  | { readonly kind: 'get' | 'set' | 'delete'; readonly node: number; readonly key: string }
  | { readonly kind: 'purge'; readonly node: number }
  /** Let the `index`-th loader call still held open (modulo how many are) resolve. */
  | { readonly kind: 'release'; readonly index: number }
  /** Wait longer than MAX_STALENESS_MS: bus messages arrive. */
  | { readonly kind: 'wait' }

const node = fc.integer({ min: 0, max: NODES.length - 1 })
const key = fc.constantFrom('k', 'j')
const steps = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('get' as const), node, key }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), node, key }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), node, key }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('purge' as const), node }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), index: fc.nat(4) }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'wait' as const }) },
  ) as fc.Arbitrary<Step>,
  { minLength: 1, maxLength: 14 },
)

const now = hostNow
const tick = () => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
let runs = 0

/** Play `plan` on three fresh caches; resolves to the checker's violations, described. */
async function play(plan: readonly Step[]): Promise<string[]> {
  const run = ++runs
  const store = new MemoryStore()
  const buses = NODES.map(() => new BroadcastChannelIpc({ channel: `races-${run}`, coalesceMs: 0 }))
  const caches = NODES.map((_, i) => {
    const cache = new TierCache<string>({ name: 'races', store, ipc: buses[i], ttl: 60_000 })
    cache.on('error', () => {})
    return cache
  })
  const operations = new Map<string, Operation>()
  const loads = new Map<string, LoadCall>()
  const held: { value: string; open: () => void }[] = []
  const running = new Set<Promise<void>>()
  let autoRelease = false
  let seq = 0

  const loaderOf = (name: string) => async (k: string) => {
    const value = `L|${name}|${++seq}`
    loads.set(value, { node: name, key: k, value, start: now(), end: Number.POSITIVE_INFINITY })
    if (!autoRelease) await new Promise<void>((open) => held.push({ value, open }))
    loads.set(value, { ...loads.get(value)!, end: now() })
    return value
  }

  const start = (kind: Operation['kind'], n: number, k: string | undefined) => {
    const name = NODES[n]!
    const cache = caches[n]!
    const id = `${kind}${++seq}@${name}`
    const value = kind === 'set' ? `S|${name}|${seq}` : undefined
    const invoked: Operation = {
      id,
      node: name,
      kind,
      ...(k === undefined ? {} : { key: k }),
      ...(value === undefined ? {} : { value }),
      invoke: now(),
      complete: Number.POSITIVE_INFINITY,
    }
    operations.set(id, invoked)
    const call =
      kind === 'get'
        ? cache.getWithInfo(k!, loaderOf(name)).then((got) => ({ value: got.value, hitLevel: got.hitLevel }))
        : (kind === 'set' ? cache.set(k!, value) : kind === 'delete' ? cache.delete(k!) : cache.purge()).then(
            () => ({}),
          )
    const done = call.then(
      (seen) => {
        operations.set(id, { ...invoked, ...seen, complete: now(), ok: true })
      },
      (error: unknown) => {
        operations.set(id, { ...invoked, complete: now(), ok: false, error: String(error) })
      },
    )
    running.add(done)
    void done.then(() => running.delete(done))
  }

  try {
    for (const step of plan) {
      if (step.kind === 'release') {
        if (held.length > 0) held.splice(step.index % held.length, 1)[0]!.open()
      } else if (step.kind === 'wait') await sleep(MAX_STALENESS_MS + 10)
      else start(step.kind, step.node, step.kind === 'purge' ? undefined : step.key)
      for (let i = 0; i < 5; i++) await tick()
    }
    // Let everything land, then every node reads every key once.
    autoRelease = true
    for (let i = 0; i < 100 && (held.length > 0 || running.size > 0); i++) {
      for (const { open } of held.splice(0)) open()
      await Promise.race([Promise.all(running), sleep(20)])
    }
    await sleep(MAX_STALENESS_MS + 10)
    for (const [n] of NODES.entries()) for (const k of ['k', 'j']) start('get', n, k)
    await Promise.all(running)
  } finally {
    for (const cache of caches) cache.close()
    for (const bus of buses) bus.close()
  }
  const verdict = check({
    operations: [...operations.values()].sort((a, b) => a.invoke - b.invoke),
    loads: [...loads.values()],
    maxStalenessMs: MAX_STALENESS_MS,
    ttlMs: 60_000,
    unhealthy: [],
  })
  return verdict.violations.map((v) => `${v.guarantee}: ${v.detail}`)
}

describe('races between three caches, interleaved by fast-check', () => {
  it('keep guarantees (1), (2) and (4)', async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (plan) => {
        const violations = await play(plan)
        if (violations.length > 0) {
          throw new Error(`${violations.length} violations:\n  ${violations.join('\n  ')}`)
        }
      }),
      { numRuns: SMOKE ? 40 : 200 },
    )
  })
})
