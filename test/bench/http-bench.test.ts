import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

// Benchmarks are not tests: nothing here looks at a timing. This runs `pnpm bench:http --quick`
// without nginx (so the suite needs no nginx) and checks it yields every table and the chart.
const out = mkdtempSync(join(tmpdir(), 'tiercache-http-bench-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))
const bench = fileURLToPath(new URL('../../benchmarks/src/http/bench.ts', import.meta.url))

describe('HTTP benchmark harness (pnpm bench:http --quick)', () => {
  it('measures every server, an expiry and a 3-node cluster, and writes the report and its SVG', {
    timeout: 120_000,
  }, async () => {
    const args = [
      '--import',
      'tsx',
      bench,
      '--quick',
      '--no-nginx',
      '--out',
      out,
      '--port-base',
      '19700',
      '--redis-port',
      '7092',
    ]
    await promisify(execFile)(process.execPath, args, {
      cwd: fileURLToPath(new URL('../../benchmarks', import.meta.url)),
    })
    const report = readFileSync(join(out, 'http.md'), 'utf8')
    for (const server of ['node:http + Map', 'cacheHttp (library)', 'tiercache-proxy']) {
      expect(report).toMatch(new RegExp(`^\\| ${server.replace(/[+()]/g, '\\$&')} \\| [\\d,]+ \\|`, 'm'))
    }
    expect(report).toMatch(/^\| tiercache-proxy \| \d+ \| \d+ \|/m) // the expiry table
    expect(report).toMatch(/^\| 3 × tiercache-proxy \+ Redis \| \d+ \| [\d,]+ \|/m)
    expect(report).toContain('Load average (1/5/15 min)')
    const svg = readFileSync(join(out, 'http-expiry.svg'), 'utf8')
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain('<path d="M')
  })
})
