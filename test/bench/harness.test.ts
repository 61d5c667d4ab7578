import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { machineInfo, versions } from '../../benchmarks/src/harness/machine.js'
import { writeReport } from '../../benchmarks/src/harness/report.js'
import type { Budget, ScenarioResult } from '../../benchmarks/src/harness/scenario.js'
import { textTable } from '../../benchmarks/src/harness/table.js'
import { l1Hit } from '../../benchmarks/src/scenarios/l1-hit.js'

// Benchmarks are not tests: nothing here looks at a timing. This runs the L1-hit
// scenario end to end on a tiny budget and checks that it yields a complete
// table for every contender and a report with its charts.
const tiny: Budget = { mode: 'quick', rounds: 1, microMs: 2, loadMs: 10, eventRounds: 1, memoryEntries: 10 }
const out = mkdtempSync(join(tmpdir(), 'tiercache-bench-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe('benchmark harness', () => {
  let result: ScenarioResult

  it('runs the L1-hit scenario for every contender, both access patterns', { timeout: 60_000 }, async () => {
    const lines: string[] = []
    result = await l1Hit.run({
      budget: tiny,
      redis: { host: '127.0.0.1', port: 0, prefix: 'unused:', own: false, version: 'n/a', stop: async () => {} },
      progress: (line) => lines.push(line),
    })
    expect(result.tables.map((t) => t.title)).toEqual([
      'L1 hit, 10k keys, uniform (1 in flight)',
      'L1 hit, 10k keys, zipf(1) (1 in flight)',
    ])
    for (const table of result.tables) {
      expect(table.rows.map((row) => row[0])).toEqual([
        'lru.get(k)',
        'await lru.get(k)',
        'tiercache',
        'bentocache',
        'cache-manager',
        'cacheable',
        'async-cache-dedupe',
        'lru-cache fetch',
        'tiercache tagged',
        'tiercache refreshAhead',
      ])
      for (const row of table.rows) {
        expect(row).toHaveLength(table.columns.length)
        expect(row[3]).toMatch(/^\d+(\.\d+)?×$/)
      }
      // The baseline is its own unit.
      expect(table.rows[1]![3]).toBe('1.00×')
    }
    expect(result.findings.some((f) => f.includes('tiercache L1 hit'))).toBe(true)
    expect(result.findings.some((f) => f.includes('tiercache refreshAhead L1 hit'))).toBe(true)
    expect(result.findings.some((f) => f.startsWith('WARNING') || f.startsWith('skipped'))).toBe(false)
    expect(lines.length).toBeGreaterThan(0)
    expect(textTable(result.tables[0]!)).toContain('async-cache-dedupe')
  })

  it('writes the report with one SVG per chart', () => {
    writeReport(out, {
      command: 'pnpm bench',
      mode: 'quick',
      machine: machineInfo(),
      loadAtEnd: [0, 0, 0],
      durationS: 1,
      redis: { version: 'n/a', where: 'none' },
      versions: versions(['bentocache', 'lru-cache']),
      valueBytes: 1000,
      results: [result],
    })
    const readme = readFileSync(join(out, 'README.md'), 'utf8')
    expect(readme).toContain('## L1 hit')
    expect(readme).toMatch(/\| bentocache \| \d+\.\d+\.\d+ \|/)
    for (const chart of result.charts) {
      expect(existsSync(join(out, chart.file))).toBe(true)
      const svg = readFileSync(join(out, chart.file), 'utf8')
      expect(svg.startsWith('<svg')).toBe(true)
      expect(svg).toContain('tiercache')
      expect(readme).toContain(`](./${chart.file})`)
    }
  })
})
