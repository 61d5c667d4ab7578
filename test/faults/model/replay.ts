/**
 * Replay one command sequence on a real TierCache and on the reference model,
 * step by step, and fail at the first step where they disagree.
 */
import type { TierCache } from '@tiercache/core'
import { CacheModel, type Command, type LoaderOutcome, type ModelOptions, type Observation } from './model.js'

/** How time moves for the cache under test. */
export interface TimeDriver {
  /** The time at which the next step runs (a real-clock driver may wait first). */
  before(model: CacheModel): Promise<number>
  advance(ms: number): Promise<void>
  /** Let a background refresh started by the last step finish. */
  settle(): Promise<void>
}

/** What the cache did in one step (its real hitLevel). */
type Seen = Omit<Observation, 'hitLevel'> & { readonly hitLevel?: number }

/** A step where the cache did not do what the model says. */
export class ModelMismatch extends Error {
  override readonly name = 'ModelMismatch'
}

/** Run `commands` on `cache` (built with `options`) and on the model; throws `ModelMismatch` at the first difference. */
export async function replay(
  commands: readonly Command[],
  options: ModelOptions,
  cache: TierCache<string>,
  time: TimeDriver,
  compare: { hitLevel: boolean },
): Promise<void> {
  const model = new CacheModel(options)
  let calls = 0
  let outcome: LoaderOutcome = 'value'
  const loader = async () => {
    calls++
    if (outcome === 'throw') throw new Error('origin down')
    return outcome === 'null' ? null : `v${calls}`
  }
  const trace: string[] = []
  let start: number | undefined
  for (const [i, given] of commands.entries()) {
    const command: Command = given.kind === 'set' ? { ...given, value: given.miss ? undefined : `s${i}` } : given
    if (command.kind === 'advance') {
      await time.advance(command.ms)
      trace.push(`advance ${command.ms}`)
      continue
    }
    const now = await time.before(model)
    start ??= now
    const expected = model.step(command, now)
    const loadsBefore = calls
    let observed: Omit<Seen, 'loads'>
    if (command.kind === 'get' || command.kind === 'peek-get') {
      if (command.kind === 'get') outcome = command.outcome
      try {
        const got = await (command.kind === 'get'
          ? cache.getWithInfo(command.key, loader)
          : cache.getWithInfo(command.key))
        observed = { value: got.value, stale: got.stale, hitLevel: got.hitLevel }
      } catch (error) {
        observed = { value: undefined, rejected: (error as Error).name, stale: false }
      }
    } else {
      if (command.kind === 'set') await cache.set(command.key, command.miss ? null : command.value)
      else if (command.kind === 'delete') await cache.delete(command.key)
      else await cache.purge()
      observed = { value: undefined, stale: false }
    }
    await time.settle()
    const seen: Seen = { ...observed, loads: calls - loadsBefore }
    trace.push(`t=${now - start} ${describe(command)} → ${show(seen)}`)
    if (!same(expected, seen, compare.hitLevel)) {
      throw new ModelMismatch(
        `step ${i}: ${describe(command)} at t=${now - start}\n  model: ${show(expected)}\n  cache: ${show(seen)}\n` +
          `options: ${JSON.stringify(options)}\nsteps:\n  ${trace.join('\n  ')}`,
      )
    }
  }
}

function same(model: Observation, cache: Seen, hitLevel: boolean): boolean {
  const level =
    !hitLevel ||
    model.hitLevel === undefined ||
    (model.hitLevel === 'not-3'
      ? cache.hitLevel !== 3
      : model.hitLevel === 1
        ? cache.hitLevel === 1 || cache.hitLevel === 2
        : model.hitLevel === cache.hitLevel)
  return (
    level &&
    model.value === cache.value &&
    model.rejected === cache.rejected &&
    model.stale === cache.stale &&
    model.loads === cache.loads
  )
}

function describe(c: Command): string {
  if (c.kind === 'get') return `get(${c.key}, loader→${c.outcome})`
  if (c.kind === 'peek-get') return `get(${c.key}) without loader`
  if (c.kind === 'set') return `set(${c.key}, ${c.miss ? 'null' : c.value})`
  if (c.kind === 'delete') return `delete(${c.key})`
  if (c.kind === 'purge') return 'purge()'
  return `advance ${c.ms}`
}

function show(o: Observation | Seen): string {
  const what = o.rejected ?? (o.value === undefined ? 'miss' : o.value)
  const level = o.hitLevel === undefined ? '' : `, hitLevel ${o.hitLevel}`
  return `${what}${o.stale ? ' (stale)' : ''}${level}, ${o.loads} loader call${o.loads === 1 ? '' : 's'}`
}
