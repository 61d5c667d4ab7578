/**
 * The per-fault table of docs/reliability.md, and a short list of violations
 * per guarantee, written under test/faults/results/ after a run.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Guarantee, Violation } from '../history/checker.js'
import type { ScenarioResult } from './scenario.js'

const resultsDir = fileURLToPath(new URL('../results/', import.meta.url))

/** The markdown table, one row per scenario. */
export function table(results: readonly ScenarioResult[]): string {
  const rows = results.map(({ scenario, verdict: { figures: f, violations } }) => {
    const kinds = countBy(violations)
    const broken = Object.entries(kinds)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ')
    return `| ${scenario.name} | ${f.operations} | ${f.wrongValues} | ${f.worstStalenessMs} / ${f.boundMs} | ${f.rejected} | ${f.extraLoads} | ${f.slowestCallMs} | ${f.timeToRecoverMs} | ${broken || 'none'} |`
  })
  return [
    '| fault | operations | wrong values | worst staleness / bound (ms) | rejected calls | extra loads | slowest call (ms) | time to recover (ms) | violations |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n')
}

/** At most `perKind` examples of each kind of violation of each scenario. */
export function examples(results: readonly ScenarioResult[], perKind = 3): string {
  const lines: string[] = []
  for (const { scenario, verdict } of results) {
    const seen = new Map<Guarantee, number>()
    for (const violation of verdict.violations) {
      const n = seen.get(violation.guarantee) ?? 0
      seen.set(violation.guarantee, n + 1)
      if (n < perKind) lines.push(`- ${scenario.name}: ${violation.guarantee}: ${violation.detail}`)
    }
  }
  return lines.join('\n')
}

/** Write the table, the examples and every verdict as JSON to test/faults/results/<name>.*; returns the markdown. */
export function writeResults(name: string, results: readonly ScenarioResult[]): string {
  mkdirSync(resultsDir, { recursive: true })
  const markdown = `${table(results)}\n\nExamples:\n\n${examples(results)}\n`
  writeFileSync(`${resultsDir}${name}.md`, markdown)
  writeFileSync(
    `${resultsDir}${name}.json`,
    JSON.stringify(
      results.map(({ scenario, verdict }) => ({ scenario: scenario.name, fault: scenario.fault, ...verdict })),
      null,
      1,
    ),
  )
  for (const { scenario, history } of results) {
    const file = scenario.name.replace(/[^a-z0-9]+/gi, '-')
    writeFileSync(`${resultsDir}${name}-history-${file}.json`, JSON.stringify(history))
  }
  return markdown
}

function countBy(violations: readonly Violation[]): Partial<Record<Guarantee, number>> {
  const counts: Partial<Record<Guarantee, number>> = {}
  for (const v of violations) counts[v.guarantee] = (counts[v.guarantee] ?? 0) + 1
  return counts
}
