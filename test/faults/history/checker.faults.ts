// The checker proven on hand-made histories: each guarantee has a history
// that breaks it (and must be caught) and a close one that keeps it (and must pass).
import { describe, expect, it } from 'vitest'
import { check, type Guarantee } from './checker.js'
import type { History, LoadCall, Operation } from './history.js'

let seq = 0
const op = (fields: Omit<Operation, 'id' | 'ok'> & { ok?: boolean }): Operation => ({
  id: `op${++seq}`,
  ok: true,
  ...fields,
})
const set = (node: string, key: string, value: string, invoke: number, complete: number, ok = true) =>
  op({ node, kind: 'set', key, value, invoke, complete, ok })
const del = (node: string, key: string, invoke: number, complete: number, ok = true) =>
  op({ node, kind: 'delete', key, invoke, complete, ok })
const purge = (node: string, invoke: number, complete: number) => op({ node, kind: 'purge', invoke, complete })
const get = (node: string, key: string, value: string | undefined, invoke: number, complete: number, hitLevel = 1) =>
  op({ node, kind: 'get', key, value, invoke, complete, hitLevel })
const load = (node: string, key: string, value: string, start: number, end: number): LoadCall => ({
  node,
  key,
  value,
  start,
  end,
})

const history = (operations: Operation[], loads: LoadCall[] = [], extra: Partial<History> = {}): History => ({
  operations,
  loads,
  maxStalenessMs: 500,
  ttlMs: 10_000,
  unhealthy: [],
  ...extra,
})

const guarantees = (h: History): Guarantee[] => check(h).violations.map((v) => v.guarantee)

describe('guarantee (1): no lost write', () => {
  it('catches an older load written over a set (seen from the store on another node)', () => {
    const h = history(
      [
        get('A', 'k', 'L|A|1', 0, 50, 3),
        set('B', 'k', 'S|B|1', 20, 30),
        // The refresh that started at 10 landed at 50 over the set: node C reads it from the store.
        get('C', 'k', 'L|A|1', 2_000, 2_002, 2),
      ],
      [load('A', 'k', 'L|A|1', 10, 45)],
    )
    expect(guarantees(h)).toEqual(['lost-write'])
  })

  it('catches the writer itself reading an older value right after its set resolved', () => {
    const h = history(
      [set('A', 'k', 'S|A|1', 0, 5), set('A', 'k', 'S|A|2', 10, 15), get('A', 'k', 'S|A|1', 16, 17)],
      [],
    )
    expect(guarantees(h)).toEqual(['lost-write'])
  })

  it('catches a delete undone by a load that started before it', () => {
    const h = history(
      [del('A', 'k', 20, 25), get('B', 'k', 'L|C|1', 1_000, 1_001, 2)],
      [load('C', 'k', 'L|C|1', 10, 40)],
    )
    expect(guarantees(h)).toEqual(['lost-write'])
  })

  it('catches a purge undone by an older value', () => {
    const h = history([set('A', 'k', 'S|A|1', 0, 5), purge('B', 10, 12), get('C', 'k', 'S|A|1', 1_000, 1_001, 2)])
    expect(guarantees(h)).toEqual(['lost-write'])
  })

  it('accepts a load concurrent with the set ordered after it', () => {
    const h = history(
      [set('B', 'k', 'S|B|1', 20, 30), get('C', 'k', 'L|A|1', 2_000, 2_002, 2)],
      [load('A', 'k', 'L|A|1', 25, 45)],
    )
    expect(guarantees(h)).toEqual([])
  })

  it('accepts a miss after a delete, and a value written after a purge', () => {
    const h = history([
      set('A', 'k', 'S|A|1', 0, 5),
      del('A', 'k', 10, 12),
      get('B', 'k', undefined, 1_000, 1_001, 3),
      purge('B', 1_100, 1_101),
      set('C', 'k', 'S|C|1', 1_200, 1_205),
      get('A', 'k', 'S|C|1', 1_300, 1_301, 2),
    ])
    expect(guarantees(h)).toEqual([])
  })

  it('catches a miss after a set resolved with no delete since', () => {
    const h = history([set('A', 'k', 'S|A|1', 0, 5), get('B', 'k', undefined, 1_000, 1_001, 3)])
    expect(guarantees(h)).toEqual(['lost-write'])
  })
})

describe('guarantee (2): bounded staleness', () => {
  it('accepts another node returning the older value within maxStaleness', () => {
    const h = history([set('A', 'k', 'S|A|1', 0, 5), set('A', 'k', 'S|A|2', 10, 15), get('B', 'k', 'S|A|1', 400, 401)])
    const verdict = check(h)
    expect(verdict.violations).toEqual([])
    expect(verdict.figures.worstStalenessMs).toBe(385)
  })

  it('catches another node returning it from L1 after maxStaleness, and reports how stale', () => {
    const h = history([
      set('A', 'k', 'S|A|1', 0, 5),
      set('A', 'k', 'S|A|2', 10, 15),
      get('B', 'k', 'S|A|1', 2_015, 2_016),
    ])
    const verdict = check(h)
    expect(verdict.violations.map((v) => v.guarantee)).toEqual(['stale-read'])
    expect(verdict.figures).toMatchObject({ wrongValues: 1, worstStalenessMs: 2_000, boundMs: 500 })
  })

  it('ignores writes that did not resolve', () => {
    const h = history([
      set('A', 'k', 'S|A|1', 0, 5),
      set('A', 'k', 'S|A|2', 10, Number.POSITIVE_INFINITY, undefined),
      get('B', 'k', 'S|A|1', 2_000, 2_001),
    ])
    expect(guarantees(h)).toEqual([])
  })
})

describe('guarantee (3): a rejected write leaves the fleet agreeing with the store', () => {
  it('catches the writer serving its rejected value while another node reads the older one', () => {
    const h = history([
      set('A', 'k', 'S|A|1', 0, 5),
      set('A', 'k', 'S|A|2', 100, 300, false),
      get('A', 'k', 'S|A|2', 900, 901),
      get('B', 'k', 'S|A|1', 950, 951, 2),
    ])
    expect(guarantees(h)).toEqual(['rejected-write-served'])
  })

  it('catches a rejected write that lands late', () => {
    const h = history([
      set('A', 'k', 'S|A|1', 0, 5),
      set('A', 'k', 'S|A|2', 100, 300, false),
      get('B', 'k', 'S|A|1', 900, 901, 2),
      get('C', 'k', 'S|A|2', 1_500, 1_501, 2),
    ])
    expect(guarantees(h)).toEqual(['rejected-write-served'])
  })

  it('accepts a fleet that agrees either way', () => {
    const landed = history([
      set('A', 'k', 'S|A|1', 0, 5),
      set('A', 'k', 'S|A|2', 100, 300, false),
      get('A', 'k', 'S|A|2', 900, 901),
      get('B', 'k', 'S|A|2', 950, 951, 2),
    ])
    const lost = history([
      set('A', 'k', 'S|A|1', 0, 5),
      set('A', 'k', 'S|A|2', 100, 300, false),
      get('A', 'k', 'S|A|1', 900, 901, 2),
      get('B', 'k', 'S|A|1', 950, 951, 2),
    ])
    expect(guarantees(landed)).toEqual([])
    expect(guarantees(lost)).toEqual([])
    expect(check(lost).figures.rejected).toBe(1)
  })
})

describe('guarantee (4): one loader call per key per expiry', () => {
  it('catches a second load while the first is running, and one while its value is fresh', () => {
    const h = history(
      [],
      [load('A', 'k', 'L|A|1', 0, 50), load('B', 'k', 'L|B|1', 10, 60), load('C', 'k', 'L|C|1', 5_000, 5_050)],
    )
    const verdict = check(h)
    expect(verdict.violations.map((v) => v.guarantee)).toEqual(['extra-load', 'extra-load'])
    expect(verdict.figures.extraLoads).toBe(2)
  })

  it('accepts a load after expiry, after a delete, and while the store is unhealthy', () => {
    const h = history(
      [del('B', 'k', 12_000, 12_001)],
      [
        load('A', 'k', 'L|A|1', 0, 50),
        load('B', 'k', 'L|B|1', 10_100, 10_150),
        load('C', 'k', 'L|C|1', 12_002, 12_050),
        load('A', 'k', 'L|A|2', 13_000, 13_050),
      ],
      { unhealthy: [{ from: 12_900, to: 14_000 }] },
    )
    expect(guarantees(h)).toEqual([])
  })

  it('accepts a second load when a purge was still running as the first one started', () => {
    const h = history([purge('A', 0, 10)], [load('B', 'k', 'L|B|1', 5, 50), load('B', 'k', 'L|B|2', 60, 110)])
    expect(guarantees(h)).toEqual([])
  })

  it('catches a second load when the delete had completed before the first load started', () => {
    const h = history([del('A', 'k', 0, 10)], [load('B', 'k', 'L|B|1', 15, 50), load('C', 'k', 'L|C|1', 60, 110)])
    expect(guarantees(h)).toEqual(['extra-load'])
  })

  it('catches a load while a set value is fresh', () => {
    const h = history([set('A', 'k', 'S|A|1', 0, 5)], [load('B', 'k', 'L|B|1', 100, 150)])
    expect(guarantees(h)).toEqual(['extra-load'])
  })

  it('accepts a load after an earlier one whose deciding read a delete followed (that load wrote nothing)', () => {
    // A read at 3, the delete ran 5-8, A's loader 10-30: A's write-back was fenced out by the delete.
    const h = history(
      [del('B', 'k', 5, 8)],
      [
        { ...load('A', 'k', 'L|A|1', 10, 30), decidedAt: 3 },
        { ...load('C', 'k', 'L|C|1', 40, 60), decidedAt: 38 },
      ],
    )
    expect(guarantees(h)).toEqual([])
    // Decided after the delete: A's value was stored, and C loading while it is fresh is extra.
    const after = history(
      [del('B', 'k', 5, 8)],
      [
        { ...load('A', 'k', 'L|A|1', 10, 30), decidedAt: 9 },
        { ...load('C', 'k', 'L|C|1', 40, 60), decidedAt: 38 },
      ],
    )
    expect(guarantees(after)).toEqual(['extra-load'])
  })

  it('judges a load by the store read it decided on: a set completed after that read was sent is concurrent', () => {
    // B's read left at 3, the set completed at 5 (it may have run after the read in the store), the loader at 40.
    const concurrent = history([set('A', 'k', 'S|A|1', 0, 5)], [{ ...load('B', 'k', 'L|B|1', 40, 60), decidedAt: 3 }])
    expect(guarantees(concurrent)).toEqual([])
    // A read sent after the set completed found its value, fresh: loading then is an extra load.
    const extra = history([set('A', 'k', 'S|A|1', 0, 5)], [{ ...load('B', 'k', 'L|B|1', 40, 60), decidedAt: 6 }])
    expect(guarantees(extra)).toEqual(['extra-load'])
  })
})

describe('guarantee (4): bounded calls', () => {
  it('catches a call slower than lockWait + one lease, and only when a bound is given', () => {
    const ops = [get('A', 'k', undefined, 0, 15_001, 3), get('B', 'k', undefined, 0, 15_000, 3)]
    expect(guarantees(history(ops, [], { maxCallMs: 15_000 }))).toEqual(['slow-call'])
    expect(guarantees(history(ops))).toEqual([])
  })
})

describe('values nobody wrote', () => {
  it('catches a value of another key, and a value read before its write started', () => {
    const h = history([
      set('A', 'j', 'S|A|1', 0, 5),
      get('B', 'k', 'S|A|1', 10, 11),
      get('B', 'j', 'S|A|2', 20, 21),
      set('A', 'j', 'S|A|2', 30, 35),
    ])
    expect(guarantees(h)).toEqual(['unexplained-value', 'unexplained-value'])
  })
})

describe('figures', () => {
  it('counts operations, rejections, the slowest call and the time to recover after the heal', () => {
    const h = history(
      [
        set('A', 'k', 'S|A|1', 0, 5),
        set('A', 'k', 'S|A|2', 100, 1_300, false),
        get('B', 'k', 'S|A|1', 1_400, 1_402, 2),
        op({ node: 'C', kind: 'get', key: 'k', invoke: 1_500, complete: Number.POSITIVE_INFINITY, ok: undefined }),
      ],
      [],
      { healedAt: 1_000 },
    )
    expect(check(h).figures).toEqual({
      operations: 4,
      wrongValues: 0,
      worstStalenessMs: 0,
      boundMs: 500,
      rejected: 1,
      unfinished: 1,
      extraLoads: 0,
      slowestCallMs: 1_200,
      timeToRecoverMs: 300,
    })
  })
})
