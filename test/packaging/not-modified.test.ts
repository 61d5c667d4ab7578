import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

interface Row {
  cache: string
  marker: string
  distinctCopies: boolean
  value: unknown
  hitLevel: number
  seen: { staleValue: unknown; staleMeta: unknown }[]
  freshAgain: boolean
}

// Runs on the built packages (pnpm test builds first), in a plain Node process: the ES module
// build, the CommonJS build and a second install of the ES module build are three copies of
// NOT_MODIFIED, and a cache of any copy must take any copy's answer as "not modified".
describe('NOT_MODIFIED across copies of @tiercache/core (ESM, CJS, a second install)', async () => {
  const script = fileURLToPath(new URL('./fixtures/not-modified.mjs', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, [script])
  const rows = JSON.parse(stdout) as Row[]

  it('tries every pair of copies, six of them with two different objects', () => {
    expect(rows.map((row) => `${row.cache}<-${row.marker}`).sort()).toEqual(
      ['esm', 'cjs', 'second'].flatMap((c) => ['esm', 'cjs', 'second'].map((m) => `${c}<-${m}`)).sort(),
    )
    expect(rows.filter((row) => row.distinctCopies)).toHaveLength(6)
  })

  for (const row of [...rows]) {
    it(`a ${row.cache} cache takes the ${row.marker} NOT_MODIFIED: keeps its value, fresh again, never the marker`, () => {
      expect(row.seen).toEqual([{ staleValue: { body: 'one' }, staleMeta: { etag: 'e1' } }])
      expect(row.value).toEqual({ body: 'one' })
      expect(row.hitLevel).toBe(3)
      expect(row.freshAgain).toBe(true)
    })
  }
})
