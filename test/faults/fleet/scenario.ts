/**
 * One fault scenario end to end: a workload on every node, the fault, time to
 * recover, a quiet spell, a last read of every key on every node, and the
 * checker's verdict over the whole history.
 */
import { check, type Verdict } from '../history/checker.js'
import type { History } from '../history/history.js'
import { hostNow } from '../history/host-clock.js'
import { type FleetNode, finishWorkload, type Recorder, runWorkload } from './fleet.js'
import type { Fault, Target } from './nemesis.js'
import type { Workload } from './protocol.js'

/** A named fault and whether the CI smoke subset runs it. */
export interface Scenario {
  readonly name: string
  /** What the fault does, for the report. */
  readonly fault: string
  readonly run?: Fault
  readonly smoke: boolean
  /** The code of the `warning` every node's store must emit during the scenario, if any. */
  readonly warns?: string
  /**
   * ms after the fault during which loads are not held to guarantee (4) besides `settleMs`: a node
   * killed while it held a key's lock leaves the others waiting `lockWait`, after which each loads
   * itself (docs/consistency.md, "Not guaranteed").
   */
  readonly orphanedLocksMs?: number
}

/** How long each phase lasts, and the workload. */
export interface ScenarioTiming {
  /** Workload before the fault. */
  readonly warmMs: number
  /** Workload after the heal. */
  readonly recoverMs: number
  /**
   * After the heal, the store and bus may still be reconnecting: loader calls
   * this long after it are not held to guarantee (4) (the other checks apply throughout).
   */
  readonly settleMs: number
  readonly maxStalenessMs: number
  /** The nodes' `lockWait` + `lockLease`: no call may take longer (guarantee 4). */
  readonly maxCallMs: number
}

/** The verdict of one scenario and the history it came from. */
export interface ScenarioResult {
  readonly scenario: Scenario
  readonly verdict: Verdict
  readonly history: History
}

const now = hostNow
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Run `scenario` on the fleet; the recorder is cleared first. */
export async function runScenario(
  scenario: Scenario,
  target: Target & { readonly nodes: readonly FleetNode[] },
  recorder: Recorder,
  workload: Workload,
  timing: ScenarioTiming,
): Promise<ScenarioResult> {
  recorder.clear()
  runWorkload(target.nodes, workload)
  await sleep(timing.warmMs)
  const from = now()
  if (scenario.run !== undefined) await scenario.run(target)
  const healedAt = now()
  await sleep(timing.recoverMs)
  await finishWorkload(target.nodes, timing.maxStalenessMs + 300)
  const history: History = {
    operations: recorder.operations,
    loads: [...recorder.loads.values()],
    maxStalenessMs: timing.maxStalenessMs,
    maxCallMs: timing.maxCallMs,
    ttlMs: workload.ttl,
    unhealthy:
      scenario.run === undefined ? [] : [{ from, to: healedAt + (scenario.orphanedLocksMs ?? 0) + timing.settleMs }],
    ...(scenario.run === undefined ? {} : { healedAt }),
  }
  return { scenario, verdict: check(history), history }
}
