import { runChild } from '../harness/child.js'
import { nanos, plusMinus, ratio } from '../harness/format.js'
import type { Scenario, ScenarioResult, Table } from '../harness/scenario.js'
import { BASELINE, type TracingAnswer, type TracingJob } from './tracing-worker.js'

/**
 * Scenario 1b: the L1 hit of scenario 1 with and without a subscriber on the
 * `tiercache:get` tracing channel. Each case runs in its own process: a
 * diagnostics channel changes its prototype when subscribed, and a process
 * that saw both would charge the unsubscribed case for the other's feedback.
 */
export const tracing: Scenario = {
  id: 'l1-tracing',
  title: 'L1 hit with and without a tracing subscriber',
  async run(ctx): Promise<ScenarioResult> {
    const job = (subscriber: boolean): TracingJob => ({
      subscriber,
      keys: 10_000,
      lruSize: 16_384,
      rounds: ctx.budget.rounds,
      cpuMs: ctx.budget.microMs,
    })
    const answers: [string, TracingAnswer][] = []
    for (const subscriber of [false, true]) {
      ctx.progress(`l1-tracing: ${subscriber ? 'a subscriber' : 'no subscriber'} on tiercache:get`)
      const answer = await runChild<TracingJob, TracingAnswer>(
        new URL('./tracing-worker.ts', import.meta.url),
        job(subscriber),
      )
      answers.push([subscriber ? 'tiercache:get subscribed' : 'no subscriber', answer])
    }
    const tables: Table[] = []
    const findings: string[] = []
    for (const [p, name] of answers[0]![1].patterns.map((x, i) => [i, x.name] as const)) {
      tables.push({
        title: `L1 hit, 10k keys, ${name}: tracing cost`,
        columns: ['case', BASELINE, 'tiercache get', `× ${BASELINE}`, 'rounds spread'],
        rows: answers.map(([label, a]) => {
          const r = a.patterns[p]!
          return [label, nanos(r.baselineNs), nanos(r.tiercacheNs), ratio(r.ratio), plusMinus(r.spread)]
        }),
      })
      const quiet = answers[0]![1].patterns[p]!.ratio
      findings.push(
        `${quiet >= 0.9 ? 'MET' : 'MISSED'}: ${name} L1 hit, no subscriber = ${ratio(quiet)} ${BASELINE} (target ≥ 0.90×)`,
      )
      const traced = answers[1]![1].patterns[p]!.ratio
      findings.push(
        `${name} L1 hit with a subscriber = ${ratio(traced)} ${BASELINE} (${ratio(traced / quiet)} of unsubscribed)`,
      )
    }
    findings.push(`subscriber called for ${answers[1]![1].traced} gets; unsubscribed case: ${answers[0]![1].traced}`)
    return {
      id: this.id,
      title: this.title,
      method:
        'Scenario 1 (10k keys of 1 KB objects, preloaded; the same 65 536-draw sequences) for tiercache alone against ' +
        `${BASELINE}, in two fresh processes: one with nothing subscribed to the tracing channels, one with a ` +
        'subscriber on every event of tiercache:get (start counts, the others do nothing).',
      tables,
      charts: [],
      findings,
    }
  },
}
