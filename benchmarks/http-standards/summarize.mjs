// Per-group pass counts of the suite's REQUIRED tests (kind "required" or unset, not browser-only),
// graded as the suite grades them (a failed dependency fails the test).
//   node summarize.mjs <suite dir> name=results.json [name=results.json ...] [--failures]
// --failures lists each run's required tests not passed, naming the runs that do pass them.
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const [suiteDir, ...rest] = process.argv.slice(2)
const showFailures = rest.includes('--failures')
const runs = rest
  .filter((a) => a.includes('='))
  .map((a) => {
    const [name, file] = a.split('=')
    return { name, results: JSON.parse(readFileSync(file, 'utf8')) }
  })
const { default: suites } = await import(pathToFileURL(`${suiteDir}/tests/index.mjs`).href)
const { determineTestResult, resultTypes } = await import(pathToFileURL(`${suiteDir}/test-engine/lib/results.mjs`).href)

const required = (t) => (t.kind === undefined || t.kind === 'required') && !t.browser_only
const rows = []
const totals = runs.map(() => 0)
let all = 0
for (const suite of suites) {
  const tests = suite.tests.filter(required)
  if (tests.length === 0) continue
  all += tests.length
  const counts = runs.map((run, i) => {
    const passed = tests.filter((t) => determineTestResult(suites, t.id, run.results) === resultTypes.pass).length
    totals[i] += passed
    return passed
  })
  rows.push(`| ${suite.id} | ${tests.length} | ${counts.join(' | ')} |`)
}
console.log(`| group | required | ${runs.map((r) => r.name).join(' | ')} |`)
console.log(`|---|---:|${runs.map(() => '---:').join('|')}|`)
for (const row of rows) console.log(row)
console.log(`| **total** | **${all}** | ${totals.map((t) => `**${t}**`).join(' | ')} |`)
// The "should" tests, for information: a cache may fail them and still conform.
const optimal = suites.flatMap((suite) => suite.tests.filter((t) => t.kind === 'optimal' && !t.browser_only))
const optimalPassed = runs.map(
  (run) => optimal.filter((t) => determineTestResult(suites, t.id, run.results) === resultTypes.pass).length,
)
console.log(`| optimal (not required) | ${optimal.length} | ${optimalPassed.join(' | ')} |`)
if (showFailures) {
  for (const run of runs) {
    console.log(`\n${run.name}: required tests not passed`)
    for (const suite of suites)
      for (const t of suite.tests.filter(required)) {
        const r = determineTestResult(suites, t.id, run.results)
        if (r === resultTypes.pass) continue
        const peers = runs.filter((other) => determineTestResult(suites, t.id, other.results) === resultTypes.pass)
        const passedBy = peers.length > 0 ? ` [passed by ${peers.map((p) => p.name).join(', ')}]` : ''
        console.log(`  ${r[2]} ${t.id}${passedBy}: ${JSON.stringify(run.results[t.id])?.slice(0, 160)}`)
      }
  }
}
