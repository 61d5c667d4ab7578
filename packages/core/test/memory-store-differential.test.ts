import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../src/index.js'
import type { StoreWrite } from '../src/store.js'
import { ManualClock } from './fixtures.js'
import { MemoryStore as ReferenceStore } from './reference/memory-store-c9a472d.js'

// The same random operations against MemoryStore and the lru-cache MemoryStore
// it replaced (c9a472d): every result, every version, the size and the very
// data objects handed back must agree.

const EMPTY_A = new Uint8Array(0)
const EMPTY_B = new Uint8Array(0)
const BYTES_A = new Uint8Array([1])
const BYTES_B = new Uint8Array([2, 3])
const DATA = [undefined, EMPTY_A, EMPTY_B, BYTES_A, BYTES_B] as const
const META = [undefined, new Uint8Array([9])] as const
const VALUES = [undefined, { v: 1 }, 'two', 0] as const

const time = fc.oneof(
  fc.constantFrom(0, 1, 5, 10, 100, 1000, 2 ** 31 - 1, 2 ** 31, 3e9, Number.POSITIVE_INFINITY, -5),
  fc.integer({ min: 0, max: 3000 }),
  fc.double({ min: 0, max: 5000, noNaN: true }),
)

type Op =
  | {
      op: 'set'
      ns: number
      key: number
      data: number
      fresh: number
      keep: number
      stale?: number
      ifv?: number
      res: boolean
      tagged: boolean
      meta: number
      value: number
    }
  | { op: 'touch'; ns: number; key: number; fresh: number; keep: number; ifv: number }
  | { op: 'delete' | 'read'; ns: number; key: number }
  | { op: 'purge'; ns: number }
  | { op: 'advance'; ms: number }

const ns = fc.integer({ min: 0, max: 2 })
const key = fc.integer({ min: 0, max: 7 })
/** Which version seen to pass, counted from the latest. */
const ifv = fc.integer({ min: 0, max: 12 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        op: fc.constant('set' as const),
        ns,
        key,
        data: fc.integer({ min: 0, max: DATA.length - 1 }),
        fresh: time,
        keep: time,
        // A stale window is never negative: MemoryStore refuses one with a TypeError, as RedisStore does.
        stale: time.filter((t) => t >= 0),
        ifv,
        res: fc.boolean(),
        tagged: fc.boolean(),
        meta: fc.integer({ min: 0, max: META.length - 1 }),
        value: fc.integer({ min: 0, max: VALUES.length - 1 }),
      },
      { requiredKeys: ['op', 'ns', 'key', 'data', 'fresh', 'keep', 'res', 'tagged', 'meta', 'value'] },
    ),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('touch' as const), ns, key, fresh: time, keep: time, ifv }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('delete' as const, 'read' as const), ns, key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('purge' as const), ns }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      // A clock that steps back or reads fractional ms: the two must still agree (errors included).
      ms: fc.constantFrom(0, 1, 10, 999, 1000, 5000, 60_000, 2 ** 31, 3e9, -1, -1000, 0.5),
    }),
  },
)

/** Data objects by name, so the comparison also says which object came back. */
function label(x: unknown): unknown {
  if (x === null || typeof x !== 'object') return x
  if (x instanceof Uint8Array) {
    const i = DATA.indexOf(x as never)
    const m = META.indexOf(x as never)
    return i >= 0 ? `data${i}` : m >= 0 ? `meta${m}` : `bytes(${Array.from(x).join(',')})`
  }
  if (Array.isArray(x)) return x.map(label)
  return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, label(v)]))
}

/** `o` on `store`: its result (`undefined` for a purge or a clock step). */
async function apply(store: MemoryStore | ReferenceStore, o: Op, versions: readonly string[]): Promise<unknown> {
  const n = `ns${'ns' in o ? o.ns : 0}`
  const k = `k${'key' in o ? o.key : 0}`
  /** A version seen so far, counted from the latest. */
  const seen = (i: number) => versions[versions.length - 1 - (i % versions.length)]!
  switch (o.op) {
    case 'set':
      return store.set(n, k, {
        data: DATA[o.data],
        freshMs: o.fresh,
        keepMs: Math.max(o.keep, o.fresh),
        ...(o.stale === undefined ? {} : { staleMs: o.stale }),
        ...(o.ifv === undefined ? {} : { ifVersion: seen(o.ifv) }),
        ...(o.res ? { resurrected: true as const } : {}),
        ...(o.tagged ? { tagged: true } : {}),
        ...(META[o.meta] === undefined ? {} : { meta: META[o.meta] }),
        ...(VALUES[o.value] === undefined ? {} : { value: VALUES[o.value] }),
      } satisfies StoreWrite)
    case 'touch':
      return store.touch(n, k, { freshMs: o.fresh, keepMs: Math.max(o.keep, o.fresh), ifVersion: seen(o.ifv) })
    case 'delete':
      return store.delete(n, k)
    case 'read':
      return store.read(n, k)
    case 'purge':
      return store.purge(n)
    case 'advance':
      return undefined
  }
}

async function run(ops: Op[], maxEntries: number, keepValues: boolean, startAt: number): Promise<void> {
  const clock = new ManualClock()
  clock.t = startAt
  const fenceMs = 1000
  const stores = [
    new MemoryStore({ clock, maxEntries, keepValues, fenceMs }),
    new ReferenceStore({ clock, maxEntries, keepValues, fenceMs }),
  ] as const
  const versions: string[] = ['0.0.', `0.${startAt}.1`]
  const steps: string[] = []
  for (const o of ops) {
    steps.push(JSON.stringify(o))
    const results: unknown[] = []
    for (const store of stores) {
      let r: unknown
      try {
        r = await apply(store, o, versions)
      } catch (e) {
        r = `threw ${(e as Error).message}`
      }
      results.push(label(r), store.size)
    }
    if (o.op === 'advance') clock.advance(o.ms)
    const [got, gotSize, want, wantSize] = results
    expect({ got, size: gotSize }, steps.join('\n')).toEqual({ got: want, size: wantSize })
    const version = (got as { version?: string } | undefined)?.version
    if (version !== undefined) versions.push(version)
  }
  // Every key of every namespace reads the same at the end.
  for (let n = 0; n < 3; n++) {
    for (let k = 0; k < 8; k++) {
      const [a, b] = await Promise.all(stores.map((s) => s.read(`ns${n}`, `k${k}`).catch((e: Error) => e.message)))
      expect(label(a), steps.join('\n')).toEqual(label(b))
    }
  }
}

describe('MemoryStore against the lru-cache MemoryStore it replaced (c9a472d)', () => {
  for (const maxEntries of [1, 2, 5, 40]) {
    for (const keepValues of [false, true]) {
      it(`agrees on every result, maxEntries ${maxEntries}, keepValues ${keepValues}`, async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(opArb, { maxLength: 60 }),
            // The clock of the fixtures, and one that reads like Date.now().
            fc.constantFrom(1_000_000, 1_764_000_000_000),
            (ops, startAt) => run(ops, maxEntries, keepValues, startAt),
          ),
          { numRuns: 150 },
        )
      })
    }
  }
})
